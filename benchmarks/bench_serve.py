"""Serving benchmark with wrk: mlsteps /predict against bare endpoints, per pipeline, with memory.

Prints figures; asserts nothing. Every server runs pinned to core 0 and wrk to core 1 (taskset), one
wrk thread, keep-alive connections; rounds alternate between the servers, so a burst of noise on the
machine hits all of them alike, and each figure is the median of the rounds. Baselines, measured in
the same run:

- bare (same stack): FastAPI answering constant JSON on uvicorn with uvloop and httptools, the stack
  `mlsteps serve` runs on;
- bare (stock uvicorn): the same app on uvicorn's pure-Python defaults (asyncio, h11), what a
  tutorial endpoint usually runs on.

Then `mlsteps serve` with each built-in pipeline (trained on iris by `mlsteps bootstrap`): single
rows at 1 and 8 connections, 1,000-row batches, p50/p99, and the resident memory of each server when
idle and after the load. Needs wrk (Debian: apt-get install wrk).

    .venv/bin/python benchmarks/bench_serve.py                       # linear only, 3 rounds of 5 s
    .venv/bin/python benchmarks/bench_serve.py --pipelines linear forest boosting knn --seconds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
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
BARE_APP = Path(__file__).with_name("bare_app.py")  # the baseline, shared with the other benchmarks


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


def wrk(port: int, body: Path, connections: int, seconds: float, script: Path) -> dict:
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
    return figures


def median_figures(runs: list[dict]) -> dict:
    keys = ("per_s", "p50_ms", "p99_ms")
    return {
        **{key: statistics.median(run[key] for run in runs) for key in keys},
        "failed": sum(run["errors"] + run["non2xx"] for run in runs),
    }


class Bench:
    """The servers, the bodies and the wrk script of one run; every server is stopped at the end."""

    def __init__(self, args: argparse.Namespace, work: Path):
        self.args, self.work = args, work
        self.script = work / "post.lua"
        self.script.write_text(WRK_SCRIPT)
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

    def add_mlsteps(self, pipeline: str) -> None:
        volume = self.work / f"volume-{pipeline}"
        env = {
            "MLSTEPS_DATA_DIR": str(volume),
            "MLSTEPS_PIPELINE": pipeline,
            "MLSTEPS_ACCESS_LOG": "false",
            "MLSTEPS_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "mlsteps", "bootstrap"], env={**os.environ, **env}, check=True, capture_output=True
        )
        port = free_port()
        process = start([sys.executable, "-m", "mlsteps", "serve", "--port", str(port)], env, port)
        self.servers[f"mlsteps {pipeline}"] = (process, port)
        self.idle[f"mlsteps {pipeline}"] = rss_mib(process)

    def measure(self, loads: list[tuple[str, str, int]]) -> dict[tuple[str, str, int], dict]:
        """(server, body, connections) -> median figures over alternating rounds."""
        runs: dict[tuple[str, str, int], list[dict]] = {load: [] for load in loads}
        for _ in range(self.args.rounds):
            for load in loads:
                server, body, connections = load
                port = self.servers[server][1]
                runs[load].append(wrk(port, self.bodies[body], connections, self.args.seconds, self.script))
        return {load: median_figures(found) for load, found in runs.items()}

    def stop(self) -> None:
        for process, _ in self.servers.values():
            process.terminate()
            process.wait(10)


def report(bench: Bench, figures: dict, pipelines: list[str]) -> None:
    print(f"{'server':22s} {'load':18s} {'req/s':>9s} {'rows/s':>11s} {'p50 ms':>7s} {'p99 ms':>7s} {'failed':>6s}")
    for (server, body, connections), found in figures.items():
        rows = found["per_s"] * (1000 if body == "batch" else 1)
        print(
            f"{server:22s} {body + f', c={connections}':18s} {found['per_s']:9.0f} {rows:11,.0f} "
            f"{found['p50_ms']:7.2f} {found['p99_ms']:7.2f} {found['failed']:6d}"
        )
    print("\nsingle-row ratios to the bare endpoints (medians of the rounds):")
    for pipeline in pipelines:
        for connections in (1, 8):
            mine = figures[(f"mlsteps {pipeline}", "single", connections)]["per_s"]
            same = figures[("bare (same stack)", "single", connections)]["per_s"]
            stock = figures[("bare (stock uvicorn)", "single", connections)]["per_s"]
            print(
                f"  mlsteps {pipeline:9s} c={connections}: {mine / same:.2f} of bare on the same stack, "
                f"{mine / stock:.2f} of bare on stock uvicorn"
            )
    print("\nresident memory (MiB), idle after start -> after the load:")
    for name, (process, _) in bench.servers.items():
        print(f"  {name:22s} {bench.idle[name]:6.0f} -> {rss_mib(process):6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; figures are their medians")
    parser.add_argument("--pipelines", nargs="+", default=["linear"], help="built-in pipelines to serve")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("taskset"):
        sys.exit("bench_serve.py needs wrk and taskset (Debian: apt-get install wrk util-linux).")
    with tempfile.TemporaryDirectory(prefix="mlsteps-bench-serve-") as scratch:
        bench = Bench(args, Path(scratch))
        try:
            bench.add_bare("bare (same stack)", "uvloop+httptools")
            bench.add_bare("bare (stock uvicorn)", "asyncio+h11")
            for pipeline in args.pipelines:
                bench.add_mlsteps(pipeline)
            loads = [(server, "single", c) for server in bench.servers for c in (1, 8)]
            loads += [(f"mlsteps {pipeline}", "batch", 1) for pipeline in args.pipelines]
            print(
                f"wrk on core {LOAD_CORE}, servers on core {SERVER_CORE}; {args.rounds} alternating rounds of "
                f"{args.seconds:g} s; figures are medians\n"
            )
            report(bench, bench.measure(loads), args.pipelines)
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
