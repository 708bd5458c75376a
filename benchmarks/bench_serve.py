"""Serving benchmark with wrk: mlsteps /predict against bare endpoints, per pipeline, with memory.

Prints figures; asserts nothing. Every server runs pinned to core 0 and wrk to core 1 (taskset), one
wrk thread, keep-alive connections; rounds alternate between the servers, so a burst of noise on the
machine hits all of them alike. Each figure is the median of the rounds, and each ratio the median
of per-round ratios between runs made back to back. Baselines, measured in the same run:

- bare (same stack): FastAPI answering constant JSON on uvicorn with uvloop and httptools, the stack
  `mlsteps serve` runs on;
- bare (stock uvicorn): the same app on uvicorn's pure-Python defaults (asyncio, h11), what a
  tutorial endpoint usually runs on;
- before: `mlsteps serve` as it was at commit BEFORE (default: main when the serving-speed issue was
  written), its source taken from git and run in this same environment, for the batch speed-up.

Then `mlsteps serve` with each built-in pipeline (trained on iris by `mlsteps bootstrap`), and for
`linear` three more: the plain path (MLSTEPS_SPEED_TRICKS=false: FastAPI's routing, pydantic, scikit-learn),
the fast path with MLSTEPS_API_KEY set (wrk then sends `Authorization: Bearer <key>`), and the fast path
with the prediction log off (MLSTEPS_PREDICTION_LOG=false, the log's share of a request): single
rows at 1 and 8 connections, 1,000-row batches, p50/p99, the server's CPU time per request (from
/proc, so the load generator's own noise is left out), and the resident memory of each server when
idle and after the load. Then the protocols and the runtimes (issue 20), on `linear`: the Open Inference
Protocol's V2 infer with one row as JSON against /predict, 10,000-row batches as V2 binary tensors against
V2 JSON (and /predict), `MLSTEPS_RUNTIME=onnx` against the default runtime over HTTP, and the model call
alone in this process: scikit-learn's pipeline, ONNX Runtime and the folded linear scorer, for 1, 1,000
and 10,000 rows. Needs wrk (Debian: apt-get install wrk).

    .venv/bin/python benchmarks/bench_serve.py                       # linear only, 5 rounds of 3 s
    .venv/bin/python benchmarks/bench_serve.py --pipelines linear forest boosting knn --seconds 2
    .venv/bin/python benchmarks/bench_serve.py --before none         # no baseline from git
    .venv/bin/python benchmarks/bench_serve.py --protocols-only      # V2 and ONNX Runtime only
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROW = [5.1, 3.5, 1.4, 0.2]
SERVER_CORE, LOAD_CORE = "0", "1"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open(os.getenv("BODY_FILE"), "rb")
wrk.body = file:read("*a")
file:close()
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %d, "seconds": %.6f, "p50_ms": %.4f, "p99_ms": %.4f, '
    .. '"errors": %d, "non2xx": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors, summary.errors.status))
end
"""
API_KEY = "bench-serve-api-key-0123456789"  # at least 16 characters, as serve requires
BARE_APP = Path(__file__).with_name("bare_app.py")  # the baseline, shared with the other benchmarks
REPO = Path(__file__).resolve().parents[1]
BEFORE = "16dd8bb"  # main when the serving-speed issue was written: the "today" its batch target doubles
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(argv: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    """A server pinned to the server core; returns once /readyz answers 200."""
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, *argv],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{' '.join(argv)} did not become ready") from None
            time.sleep(0.2)


def rss_mib(process: subprocess.Popen) -> float:
    """Resident memory of the server (taskset execs it, so the pid is the server's own)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(process: subprocess.Popen) -> float:
    """User plus system CPU time the server has used so far, all its threads included."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wrk(
    server: subprocess.Popen,
    port: int,
    body: Path,
    connections: int,
    seconds: float,
    script: Path,
    path: str = "/predict",
) -> dict:
    cpu_before = cpu_seconds(server)
    result = subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CORE,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        env={**os.environ, "BODY_FILE": str(body)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed against {path} (exit {result.returncode}): {result.stderr.strip()}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    figures = json.loads(line.removeprefix("RESULT "))
    figures["per_s"] = figures["requests"] / figures["seconds"]
    figures["cpu_us"] = (cpu_seconds(server) - cpu_before) / max(figures["requests"], 1) * 1e6
    return figures


def median_figures(runs: list[dict]) -> dict:
    keys = ("per_s", "p50_ms", "p99_ms", "cpu_us")
    return {
        **{key: statistics.median(run[key] for run in runs) for key in keys},
        "failed": sum(run["errors"] + run["non2xx"] for run in runs),
    }


def source_at(revision: str, into: Path) -> Path | None:
    """The package source (src/) as it was at `revision`, from this clone's git history; None without it."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", revision, "src"], capture_output=True, check=False
    )
    if archive.returncode != 0:
        print(f"(no 'before' baseline: git cannot read {revision}: {archive.stderr.decode().strip()})\n")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


class Bench:
    """The servers, the bodies and the wrk script of one run; every server is stopped at the end."""

    def __init__(self, args: argparse.Namespace, work: Path):
        self.args, self.work = args, work
        self.script = work / "post.lua"
        self.script.write_text(WRK_SCRIPT)
        self.key_script = work / "post-with-key.lua"  # the same requests, with the API key's header
        self.key_script.write_text(
            WRK_SCRIPT.replace("\nwrk.body", f'\nwrk.headers["Authorization"] = "Bearer {API_KEY}"\nwrk.body', 1)
        )
        self.keyed: set[str] = set()
        self.bodies = {}
        for name, rows in (("single", 1), ("batch", 1000)):
            self.bodies[name] = work / f"{name}.json"
            self.bodies[name].write_text(json.dumps({"instances": [ROW] * rows}))
        self.servers: dict[str, tuple[subprocess.Popen, int]] = {}
        self.idle: dict[str, float] = {}
        self.targets: dict[str, tuple[str, Path]] = {}  # a body's path and wrk script, when not /predict's
        for name, (path, body, header_length) in protocol_bodies().items():
            self.bodies[name] = work / f"{name}.body"
            self.bodies[name].write_bytes(body)
            script = self.script
            if header_length is not None:  # the binary extension: the JSON header's length in a header
                script = work / f"{name}.lua"
                header = f'wrk.headers["Inference-Header-Content-Length"] = "{header_length}"'
                script.write_text(WRK_SCRIPT.replace("\nwrk.body", f"\n{header}\nwrk.body", 1))
            self.targets[name] = (path, script)

    def add_bare(self, name: str, stack: str) -> None:
        port = free_port()
        self.servers[name] = (start([sys.executable, str(BARE_APP), str(port), stack], {}, port), port)
        self.idle[name] = rss_mib(self.servers[name][0])

    def add_mlsteps(self, name: str, pipeline: str, source: Path | None = None, **settings: str) -> None:
        """`mlsteps serve` on a fresh volume trained by `mlsteps bootstrap`; `source`: another src/ to run;
        `settings`: more MLSTEPS_* variables (speed_tricks="false", api_key=...)."""
        volume = self.work / f"volume-{name.replace(' ', '-')}"
        env = {
            "MLSTEPS_DATA_DIR": str(volume),
            "MLSTEPS_PIPELINE": pipeline,
            "MLSTEPS_ACCESS_LOG": "false",
            "MLSTEPS_LOG_LEVEL": "WARNING",
            **{f"MLSTEPS_{key.upper()}": value for key, value in settings.items()},
        }
        if "api_key" in settings:
            self.keyed.add(name)
        if source is not None:  # imported first, ahead of the installed package
            env["PYTHONPATH"] = os.pathsep.join([str(source / "common"), str(source)])
        subprocess.run(
            [sys.executable, "-m", "mlsteps", "bootstrap"], env={**os.environ, **env}, check=True, capture_output=True
        )
        port = free_port()
        process = start([sys.executable, "-m", "mlsteps", "serve", "--port", str(port)], env, port)
        self.servers[name] = (process, port)
        self.idle[name] = rss_mib(process)

    def measure(self, loads: list[tuple[str, str, int]]) -> list[dict[tuple[str, str, int], dict]]:
        """One {(server, body, connections): figures} per round; the loads run in order in every round."""
        rounds = []
        for _ in range(self.args.rounds):
            found = {}
            for server, body, connections in loads:
                process, port = self.servers[server]
                script = self.key_script if server in self.keyed else self.script
                path, script = self.targets.get(body, ("/predict", script))
                found[(server, body, connections)] = wrk(
                    process, port, self.bodies[body], connections, self.args.seconds, script, path
                )
            rounds.append(found)
        return rounds


V2 = "/v2/models/mlsteps/infer"
BIG_BATCH = 10_000  # rows of the batches that compare binary tensors with JSON


def v2_request(rows: int, binary: bool) -> tuple[bytes, int | None]:
    """A V2 inference request of `rows` iris rows as one FP64 [rows, 4] tensor, asking for both outputs."""
    tensor = {"name": "input-0", "shape": [rows, 4], "datatype": "FP64"}
    outputs = [{"name": name, "parameters": {"binary_data": binary}} for name in ("predict", "predict_proba")]
    if not binary:
        request = {"inputs": [{**tensor, "data": ROW * rows}], "outputs": outputs}
        return json.dumps(request).encode(), None
    data = struct.pack(f"<{4 * rows}d", *(ROW * rows))
    header = json.dumps({"inputs": [{**tensor, "parameters": {"binary_data_size": len(data)}}], "outputs": outputs})
    return header.encode() + data, len(header.encode())


def protocol_bodies() -> dict[str, tuple[str, bytes, int | None]]:
    """name -> (path, body, JSON header length for the binary extension or None)."""
    single, _ = v2_request(1, binary=False)
    big_json, _ = v2_request(BIG_BATCH, binary=False)
    big_binary, header_length = v2_request(BIG_BATCH, binary=True)
    return {
        "v2 single": (V2, single, None),
        "v2 10k json": (V2, big_json, None),
        "v2 10k binary": (V2, big_binary, header_length),
        "10k": ("/predict", json.dumps({"instances": [ROW] * BIG_BATCH}).encode(), None),
    }


PROTOCOL_LOADS = [
    *(("mlsteps linear", "v2 single", connections) for connections in (1, 8)),
    ("mlsteps linear", "10k", 1),
    ("mlsteps linear", "v2 10k json", 1),
    ("mlsteps linear", "v2 10k binary", 1),
    ("mlsteps linear onnx", "batch", 1),
    ("mlsteps linear onnx", "10k", 1),
]


def report_protocols(rounds: list[dict]) -> None:
    """The V2 protocol against /predict, binary tensors against JSON, ONNX Runtime against scikit-learn's server."""
    figures = {load: median_figures([found[load] for found in rounds]) for load in PROTOCOL_LOADS}
    print("\nthe Open Inference Protocol (V2) and ONNX Runtime, mlsteps linear (medians of the rounds):")
    for (server, body, connections), found in figures.items():
        rows = found["per_s"] * (BIG_BATCH if "10k" in body else 1000 if body == "batch" else 1)
        print(
            f"  {server:20s} {body + f', c={connections}':20s} {found['per_s']:7.0f} req/s {rows:11,.0f} rows/s "
            f"{found['cpu_us']:8.0f} µs CPU/req"
        )
    print(
        "  ratios (median of the per-round ratios, and their range; CPU: the inverse ratio of server CPU per request):"
    )
    for connections in (1, 8):
        v2, predict = ("mlsteps linear", "v2 single", connections), ("mlsteps linear", "single", connections)
        print(
            f"    V2 single-row JSON to /predict, c={connections}: {paired(rounds, v2, predict)} req/s, "
            f"CPU {paired(rounds, v2, predict, 'cpu_us')} (target 0.85)"
        )
    binary, as_json = ("mlsteps linear", "v2 10k binary", 1), ("mlsteps linear", "v2 10k json", 1)
    print(
        f"    V2 10,000-row batches, binary tensors to JSON: {paired(rounds, binary, as_json)} rows/s, "
        f"CPU {paired(rounds, binary, as_json, 'cpu_us')} (target 3)"
    )
    print(f"    V2 10,000-row binary to /predict's JSON: {paired(rounds, binary, ('mlsteps linear', '10k', 1))}")
    for body in ("single", "batch", "10k"):
        onnx, sklearn = ("mlsteps linear onnx", body, 1), ("mlsteps linear", body, 1)
        print(
            f"    /predict {body}: the ONNX runtime's server to the scikit-learn one's: {paired(rounds, onnx, sklearn)}"
        )
    print("    (the scikit-learn runtime answers through the folded linear scorer, the speed tricks' fast path)")


def protocols_only(bench: Bench) -> None:
    """The protocol and runtime figures alone: the two servers they need, and the loads they compare."""
    bench.add_mlsteps("mlsteps linear", "linear")
    bench.add_mlsteps("mlsteps linear onnx", "linear", runtime="onnx")
    loads = [(server, "single", 1) for server in bench.servers] + [("mlsteps linear", "single", 8)]
    loads += [("mlsteps linear", "batch", 1), *PROTOCOL_LOADS]
    print(
        f"wrk on core {LOAD_CORE}, servers on core {SERVER_CORE}; {bench.args.rounds} rounds of {bench.args.seconds} s"
    )
    report_protocols(bench.measure(loads))
    runtimes_in_process(bench.work / "volume-mlsteps-linear-onnx")


def runtimes_in_process(volume: Path, repeats: int = 200) -> None:
    """The model call alone, in this process: scikit-learn's pipeline, ONNX Runtime, and the folded linear scorer."""
    import pandas as pd
    import sklearn

    from mlsteps.onnx_model import ONNX_FILE, onnx_model
    from mlsteps.serve.scoring import predict
    from mlsteps.serve.served_model import ServedModel
    from mlsteps.serve.speed_tricks.linear_scorer import compile_linear
    from mlsteps.volume.registry import load_latest, read_model_file

    loaded = load_latest(volume / "models")
    blob, metadata = read_model_file(volume / "models", loaded.version, ONNX_FILE)
    onnx = type(loaded)(onnx_model(blob, metadata, metadata["features"]), metadata)
    models = {
        "scikit-learn": ServedModel(loaded, None),
        "ONNX Runtime": ServedModel(onnx, None),
        "folded linear scorer": ServedModel(loaded, compile_linear(loaded.model)),
    }
    print(f"\nthe model call alone (serve's scoring.predict: labels and probabilities), best of {repeats}:")
    with sklearn.config_context(assume_finite=True):
        for rows in (1, 1000, BIG_BATCH):
            X = pd.DataFrame([ROW] * rows).to_numpy(dtype=float)
            timings = {}
            for name, served in models.items():
                best = float("inf")
                for _ in range(repeats if rows < BIG_BATCH else repeats // 10):
                    start = time.perf_counter()
                    predict(served, X)
                    best = min(best, time.perf_counter() - start)
                timings[name] = best
            ratio = timings["scikit-learn"] / timings["ONNX Runtime"]
            print(
                f"  {rows:6,d} rows: "
                + ", ".join(f"{name} {seconds * 1e6:8.0f} µs" for name, seconds in timings.items())
                + f"; ONNX Runtime {ratio:.2f}x scikit-learn's speed"
            )


def answer(bench: Bench, server: str, body: str) -> dict:
    """What `server` answers to one of the bench's bodies."""
    port = bench.servers[server][1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", bench.bodies[body].read_bytes(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    answer.pop("request_id", None)  # each answer's own id (the prediction log's): not part of what is compared
    return answer


def paired(rounds: list[dict], mine: tuple, baseline: tuple, key: str = "per_s") -> str:
    """Median of the per-round ratios mine/baseline (for cpu_us, baseline/mine: higher is faster), and their range."""
    ratios = sorted(
        found[baseline][key] / found[mine][key] if key == "cpu_us" else found[mine][key] / found[baseline][key]
        for found in rounds
    )
    return f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def report(bench: Bench, rounds: list[dict], pipelines: list[str], before: str | None) -> None:
    loads = list(rounds[0])
    figures = {load: median_figures([found[load] for found in rounds]) for load in loads}
    print(
        f"{'server':22s} {'load':15s} {'req/s':>7s} {'rows/s':>9s} {'p50 ms':>7s} {'p99 ms':>7s} "
        f"{'CPU µs/req':>10s} {'failed':>6s}"
    )
    for (server, body, connections), found in figures.items():
        rows = found["per_s"] * (1000 if body == "batch" else 1)
        print(
            f"{server:22s} {body + f', c={connections}':15s} {found['per_s']:7.0f} {rows:9,.0f} "
            f"{found['p50_ms']:7.2f} {found['p99_ms']:7.2f} {found['cpu_us']:10.0f} {found['failed']:6d}"
        )
    print("\nsingle rows, ratios to the bare endpoints (median of the rounds, and their range):")
    print("  throughput (req/s), and the inverse ratio of server CPU per request (higher is faster)")
    for pipeline in pipelines:
        for connections in (1, 8):
            mine = (f"mlsteps {pipeline}", "single", connections)
            same = ("bare (same stack)", "single", connections)
            stock = ("bare (stock uvicorn)", "single", connections)
            print(
                f"  mlsteps {pipeline:9s} c={connections}: same stack {paired(rounds, mine, same)}, "
                f"CPU {paired(rounds, mine, same, 'cpu_us')}; stock uvicorn {paired(rounds, mine, stock)}, "
                f"CPU {paired(rounds, mine, stock, 'cpu_us')}"
            )
    print("\nthe plain path and the API key, single rows (median of the rounds, and their range):")
    for connections in (1, 8):
        plain = ("mlsteps linear plain", "single", connections)
        keyed = ("mlsteps linear key", "single", connections)
        fast = ("mlsteps linear", "single", connections)
        same = ("bare (same stack)", "single", connections)
        print(
            f"  c={connections}: plain path to bare (same stack) {paired(rounds, plain, same)}, "
            f"CPU {paired(rounds, plain, same, 'cpu_us')}; with the API key to without {paired(rounds, keyed, fast)}, "
            f"CPU {paired(rounds, keyed, fast, 'cpu_us')}; with the API key to bare {paired(rounds, keyed, same)}"
        )
    print("\nthe prediction log (on by default), single rows (median of the rounds, and their range):")
    for connections in (1, 8):
        unlogged = ("mlsteps linear no log", "single", connections)
        fast = ("mlsteps linear", "single", connections)
        same = ("bare (same stack)", "single", connections)
        on_off = f"{paired(rounds, fast, unlogged)}, CPU {paired(rounds, fast, unlogged, 'cpu_us')}"
        off_bare = f"{paired(rounds, unlogged, same)}, CPU {paired(rounds, unlogged, same, 'cpu_us')}"
        print(f"  c={connections}: log on to off {on_off}; log off to bare (same stack) {off_bare}")
    if before:
        print(f"\n1,000-row batches, rows/s against the code of {before} (median of the rounds, and their range):")
        print(f"  mlsteps linear: {paired(rounds, ('mlsteps linear', 'batch', 1), ('before', 'batch', 1))}")
        print("  (its model is trained by that code, whose holdout differs: its answers are not compared)")
    same = answer(bench, "mlsteps linear", "batch") == answer(bench, "mlsteps linear plain", "batch")
    print(f"\nthe same 1,000 answers with the speed tricks on and off, to the last digit: {'yes' if same else 'NO'}")
    print("\nresident memory (MiB), idle after start -> after the load:")
    for name, (process, _) in bench.servers.items():
        print(f"  {name:22s} {bench.idle[name]:6.0f} -> {rss_mib(process):6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="duration of each wrk run, whole seconds")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; figures are their medians")
    parser.add_argument("--pipelines", nargs="+", default=["linear"], help="built-in pipelines to serve")
    parser.add_argument("--before", default=BEFORE, help=f"git revision to compare batches with (default {BEFORE})")
    parser.add_argument("--protocols-only", action="store_true", help="only the V2 protocol and ONNX Runtime figures")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench_serve.py needs wrk and taskset (Debian: apt-get install wrk util-linux).")
    if "linear" not in args.pipelines:
        args.pipelines.insert(0, "linear")  # the default pipeline, which the baselines are compared with
    with tempfile.TemporaryDirectory(prefix="mlsteps-bench-serve-") as scratch:
        bench = Bench(args, Path(scratch))
        try:
            if args.protocols_only:
                protocols_only(bench)
                return
            bench.add_bare("bare (same stack)", "uvloop+httptools")
            bench.add_bare("bare (stock uvicorn)", "asyncio+h11")
            for pipeline in args.pipelines:
                bench.add_mlsteps(f"mlsteps {pipeline}", pipeline)
            bench.add_mlsteps("mlsteps linear plain", "linear", speed_tricks="false")
            bench.add_mlsteps("mlsteps linear key", "linear", api_key=API_KEY)
            bench.add_mlsteps("mlsteps linear no log", "linear", prediction_log="false")  # the log's share
            bench.add_mlsteps("mlsteps linear onnx", "linear", runtime="onnx")
            source = None if args.before == "none" else source_at(args.before, Path(scratch) / "before")
            if source:
                bench.add_mlsteps("before", "linear", source)
            loads = [(server, "single", c) for c in (1, 8) for server in bench.servers]
            loads += [
                (server, "batch", 1) for server in bench.servers if not server.startswith(("bare", "mlsteps linear "))
            ]
            loads += PROTOCOL_LOADS
            print(
                f"wrk on core {LOAD_CORE}, servers on core {SERVER_CORE}; {args.rounds} alternating rounds of "
                f"{args.seconds:g} s\n"
            )
            rounds = bench.measure(loads)
            report(bench, rounds, args.pipelines, source and args.before)
            report_protocols(rounds)
            runtimes_in_process(bench.work / "volume-mlsteps-linear-onnx")
        finally:
            for process, _ in bench.servers.values():
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
