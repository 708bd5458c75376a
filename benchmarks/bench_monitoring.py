"""Monitoring benchmark: what the prediction log costs /predict, its memory under a burst, and the monitor's cost.

Prints figures; asserts nothing. Three parts, each against a baseline measured in the same run:

1. single-row /predict with the prediction log on against the log off (MLSTEPS_PREDICTION_LOG=false): two
   `mlsteps serve` processes on one volume, pinned to core 0, wrk on core 1 (bench_serve.py's helpers),
   rounds alternating between them; requests per second, p50/p99, and the server's CPU time per request
   (its writer thread included). Target: log on at least 0.95 of log off.
2. memory under a burst of ten times the queue: MLSTEPS_LOG_QUEUE_SIZE=1000 and 8 connections for 6 seconds
   (over 10,000 requests, more than 1,000 a second), against the log off: resident memory
   before and after, and how many answers the log dropped (counted in /metrics, none of them failed).
3. `mlsteps monitor` on 100,000 logged rows (and 100,000 with feedback): its wall time and peak memory,
   against the same process importing the monitor and doing nothing else.

    .venv/bin/python benchmarks/bench_monitoring.py                  # 5 rounds of 3 s
    .venv/bin/python benchmarks/bench_monitoring.py --rounds 3 --seconds 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_serve import WRK_SCRIPT, free_port, rss_mib, start, wrk

ROW = [5.1, 3.5, 1.4, 0.2]
LOGGED_ROWS = 100_000


def serve(volume: Path, port: int, **settings: str) -> subprocess.Popen:
    env = {"MLSTEPS_DATA_DIR": str(volume), "MLSTEPS_PORT": str(port), "MLSTEPS_ACCESS_LOG": "false", **settings}
    return start([sys.executable, "-m", "mlsteps", "serve"], env, port)


def dropped(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("mlsteps_prediction_log_dropped")
    )


def part_overhead(volume: Path, work: Path, rounds: int, seconds: float) -> None:
    body, script = work / "row.json", work / "wrk.lua"
    body.write_text('{"instances": [[5.1, 3.5, 1.4, 0.2]]}')
    script.write_text(WRK_SCRIPT)
    ports = {"log on": free_port(), "log off": free_port()}
    servers = {
        "log on": serve(volume, ports["log on"]),
        "log off": serve(volume, ports["log off"], MLSTEPS_PREDICTION_LOG="false"),
    }
    try:
        for name in servers:  # warm up
            wrk(servers[name], ports[name], body, 1, 1, script)
        runs: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(rounds):
            for name in servers:
                runs[name].append(wrk(servers[name], ports[name], body, 1, seconds, script))
        print("\n1. single-row /predict, 1 connection, median of", rounds, "rounds of", seconds, "s")
        for name, figures in runs.items():
            print(
                f"   {name:8s} {statistics.median(r['per_s'] for r in figures):8.0f} req/s  "
                f"p50 {statistics.median(r['p50_ms'] for r in figures):.3f} ms  "
                f"p99 {statistics.median(r['p99_ms'] for r in figures):.3f} ms  "
                f"CPU {statistics.median(r['cpu_us'] for r in figures):.1f} us/request"
            )
        ratios = [on["per_s"] / off["per_s"] for on, off in zip(runs["log on"], runs["log off"], strict=True)]
        print(f"   log on / log off: {statistics.median(ratios):.3f} (median of per-round ratios; target >= 0.95)")
        logged = sum(len(p.read_bytes().splitlines()) for p in (volume / "predictions" / "requests").glob("*.jsonl"))
        print(f"   the log holds {logged} answers, dropped {dropped(ports['log on']):.0f}")
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(10)


def part_burst(volume: Path, work: Path, seconds: float) -> None:
    queue = 1000
    ports = {"log on": free_port(), "log off": free_port()}
    servers = {
        "log on": serve(volume, ports["log on"], MLSTEPS_LOG_QUEUE_SIZE=str(queue)),
        "log off": serve(volume, ports["log off"], MLSTEPS_PREDICTION_LOG="false"),
    }
    print(f"\n2. a burst at MLSTEPS_LOG_QUEUE_SIZE={queue}: 8 connections for {seconds:g} s, resident memory")
    try:
        for name, server in servers.items():
            before = rss_mib(server)
            figures = wrk(server, ports[name], work / "row.json", 8, seconds, work / "wrk.lua")
            after = rss_mib(server)
            time.sleep(1.5)  # the writer's next flush
            print(
                f"   {name:8s} {figures['requests']:7d} requests ({figures['requests'] / queue:.0f}x the queue), "
                f"non-2xx {figures['non2xx']}, RSS {before:.1f} -> {after:.1f} MiB (settled {rss_mib(server):.1f}), "
                f"dropped from the log {dropped(ports[name]) if name == 'log on' else 0:.0f}"
            )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(10)


MONITOR = """
import resource, sys, time
from mlsteps.config import load_settings
from mlsteps.monitor import monitor
start = time.perf_counter()
if sys.argv[1] == "run":
    report = monitor(load_settings())
    assert report["recent"]["rows"] == {rows}, report["recent"]
print(f"{{time.perf_counter() - start:.2f}} {{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}}")
"""


def write_log(volume: Path) -> None:
    """LOGGED_ROWS one-row requests like the training data, each with feedback, as serve's writer writes them."""
    from mlsteps.volume.prediction_log import FEEDBACK, REQUESTS, batch_name, put_batch
    from mlsteps.volume.snapshots import list_snapshots, read_snapshot

    table, _ = read_snapshot(volume / "data", list_snapshots(volume / "data")[-1])
    rows, truth = table.X.to_numpy().tolist(), [str(y) for y in table.y]
    now = time.time() - 3600
    for batch in range(LOGGED_ROWS // 5000):
        ids = [f"r{batch}-{i}" for i in range(5000)]
        picks = [(batch * 5000 + i) % len(rows) for i in range(5000)]
        requests = [
            {"request_id": ids[i], "time": "2026-01-01T00:00:00+00:00", "model_version": 1,
             "instances": [rows[k]], "predictions": [truth[k]]}
            for i, k in enumerate(picks)
        ]  # fmt: skip
        feedback = [
            {"request_id": ids[i], "time": "2026-01-01T00:00:00+00:00", "actual": [truth[k]]}
            for i, k in enumerate(picks)
        ]
        put_batch(volume / "predictions", REQUESTS, batch_name(now + batch, "bench", batch), requests)
        put_batch(volume / "predictions", FEEDBACK, batch_name(now + batch, "bench", batch), feedback)


def part_monitor(volume: Path) -> None:
    write_log(volume)
    size = sum(p.stat().st_size for p in (volume / "predictions").rglob("*.jsonl")) / 1e6
    env = {
        **os.environ,
        "MLSTEPS_DATA_DIR": str(volume),
        "MLSTEPS_MONITOR_WINDOW_ROWS": str(LOGGED_ROWS),
        "MLSTEPS_LOG_LEVEL": "WARNING",
    }
    figures = {}
    for what in ("import", "run"):
        code = MONITOR.format(rows=LOGGED_ROWS)
        out = subprocess.run([sys.executable, "-c", code, what], env=env, capture_output=True, text=True, check=True)
        seconds, peak = out.stdout.split()
        figures[what] = (float(seconds), float(peak))
    print(f"\n3. mlsteps monitor on {LOGGED_ROWS:,} logged rows, each with feedback ({size:.1f} MB of JSON lines)")
    print(f"   imports only      peak RSS {figures['import'][1]:.0f} MiB")
    print(
        f"   the monitor step  {figures['run'][0]:.2f} s, peak RSS {figures['run'][1]:.0f} MiB "
        f"({figures['run'][1] - figures['import'][1]:.0f} MiB above the imports)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        volume = work / "volume"
        env = {**os.environ, "MLSTEPS_DATA_DIR": str(volume), "MLSTEPS_LOG_LEVEL": "WARNING"}
        subprocess.run([sys.executable, "-m", "mlsteps", "bootstrap"], env=env, check=True)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
        part_overhead(volume, work, args.rounds, args.seconds)
        part_burst(volume, work, max(2 * args.seconds, 6.0))  # long enough for ten times the queue
        fresh = work / "monitor-volume"
        subprocess.run(
            [sys.executable, "-m", "mlsteps", "bootstrap"], env={**env, "MLSTEPS_DATA_DIR": str(fresh)}, check=True
        )
        part_monitor(fresh)


if __name__ == "__main__":
    main()
