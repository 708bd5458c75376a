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
`linear` two more: the plain path (MLSTEPS_SPEED_TRICKS=false: FastAPI's routing, pydantic, scikit-learn)
and the fast path with MLSTEPS_API_KEY set (wrk then sends `Authorization: Bearer <key>`): single
rows at 1 and 8 connections, 1,000-row batches, p50/p99, the server's CPU time per request (from
/proc, so the load generator's own noise is left out), and the resident memory of each server when
idle and after the load. Needs wrk (Debian: apt-get install wrk).

    .venv/bin/python benchmarks/bench_serve.py                       # linear only, 5 rounds of 3 s
    .venv/bin/python benchmarks/bench_serve.py --pipelines linear forest boosting knn --seconds 2
    .venv/bin/python benchmarks/bench_serve.py --before none         # no baseline from git
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
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


def wrk(server: subprocess.Popen, port: int, body: Path, connections: int, seconds: float, script: Path) -> dict:
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
            f"http://127.0.0.1:{port}/predict",
        ],
        env={**os.environ, "BODY_FILE": str(body)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
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
                found[(server, body, connections)] = wrk(
                    process, port, self.bodies[body], connections, self.args.seconds, script
                )
            rounds.append(found)
        return rounds


def answer(bench: Bench, server: str, body: str) -> dict:
    """What `server` answers to one of the bench's bodies."""
    port = bench.servers[server][1]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", bench.bodies[body].read_bytes(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


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
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench_serve.py needs wrk and taskset (Debian: apt-get install wrk util-linux).")
    if "linear" not in args.pipelines:
        args.pipelines.insert(0, "linear")  # the default pipeline, which the baselines are compared with
    with tempfile.TemporaryDirectory(prefix="mlsteps-bench-serve-") as scratch:
        bench = Bench(args, Path(scratch))
        try:
            bench.add_bare("bare (same stack)", "uvloop+httptools")
            bench.add_bare("bare (stock uvicorn)", "asyncio+h11")
            for pipeline in args.pipelines:
                bench.add_mlsteps(f"mlsteps {pipeline}", pipeline)
            bench.add_mlsteps("mlsteps linear plain", "linear", speed_tricks="false")
            bench.add_mlsteps("mlsteps linear key", "linear", api_key=API_KEY)
            source = None if args.before == "none" else source_at(args.before, Path(scratch) / "before")
            if source:
                bench.add_mlsteps("before", "linear", source)
            loads = [(server, "single", c) for c in (1, 8) for server in bench.servers]
            loads += [
                (server, "batch", 1) for server in bench.servers if not server.startswith(("bare", "mlsteps linear "))
            ]
            print(
                f"wrk on core {LOAD_CORE}, servers on core {SERVER_CORE}; {args.rounds} alternating rounds of "
                f"{args.seconds:g} s\n"
            )
            report(bench, bench.measure(loads), args.pipelines, source and args.before)
        finally:
            for process, _ in bench.servers.values():
                process.terminate()
                process.wait(10)


if __name__ == "__main__":
    main()
