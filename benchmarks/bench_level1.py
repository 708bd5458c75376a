"""Level-1 benchmarks: start-up time, /predict throughput and latency, and a hot swap under load.

Figures are printed, never asserted (machines are noisy). Each ratio compares with a baseline
measured in the same run: a bare FastAPI endpoint that returns constant JSON, served the same way.

    pipenv run python benchmarks/bench_level1.py            # or: make bench
    pipenv run python benchmarks/bench_level1.py --seconds 3  # quicker, noisier
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LAUNCHER = REPO_ROOT / "src" / "single_function" / "single_function_all_ml_steps.py"
ROW = [5.1, 3.5, 1.4, 0.2]
# With two cores or more, servers run on the first and load clients on the others, so the clients
# never take CPU from the server they measure. On one core, everything shares it.
CORES = sorted(os.sched_getaffinity(0))
SERVER_CORES = {CORES[0]}
CLIENT_CORES = set(CORES[1:]) or SERVER_CORES


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


def wait_ready(port: int, path: str = "/readyz", seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready after {seconds}s")


def time_to_first_prediction(data_dir: Path) -> float:
    """Seconds from starting the level-1 launcher to the first 200 from /predict."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                if post(connection, json.dumps({"instances": [ROW]}).encode()) == 200:
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.02)
            if process.poll() is not None or time.perf_counter() - started > 60:
                raise RuntimeError("the launcher did not answer within 60 s")
    finally:
        process.terminate()
        process.wait(10)


def _client(args) -> tuple[list[float], dict[int, int]]:
    port, body, seconds = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, statuses = [], {}
    stop = time.perf_counter() + seconds
    while (start := time.perf_counter()) < stop:
        try:
            status = post(connection, body)
        except OSError:
            status = 0  # a refused or reset connection counts as a failure
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        latencies.append(time.perf_counter() - start)
        statuses[status] = statuses.get(status, 0) + 1
    return latencies, statuses


def load(port: int, body: bytes, seconds: float, clients: int) -> dict:
    """Keep-alive clients in separate processes, each sending requests back to back."""
    with multiprocessing.get_context("fork").Pool(clients, os.sched_setaffinity, (0, CLIENT_CORES)) as pool:
        results = pool.map(_client, [(port, body, seconds)] * clients)
    latencies = sorted(x for lat, _ in results for x in lat)
    statuses: dict[int, int] = {}
    for _, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "requests_per_s": len(latencies) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "statuses": statuses,
    }


def median_run(runs: list[dict]) -> dict:
    """The run with the median throughput."""
    return sorted(runs, key=lambda run: run["requests_per_s"])[len(runs) // 2]


def serve(command: list[str], env: dict) -> tuple[subprocess.Popen, int]:
    """Start a server on a free port, given as the last argument of `command`, on the server core."""
    port = free_port()
    process = subprocess.Popen(
        [*command, str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, SERVER_CORES),
    )
    return process, port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load run")
    parser.add_argument("--clients", type=int, default=2, help="client processes per load run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating bare/real rounds for the ratio")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlsteps-bench-"))
    print(
        f"mlsteps level-1 benchmark: {len(CORES)} cores (servers on {sorted(SERVER_CORES)}, clients on "
        f"{sorted(CLIENT_CORES)}), {args.clients} client processes, {args.seconds:g} s per run"
    )
    starts = [time_to_first_prediction(work / f"start-{i}") for i in range(3)]
    print(
        f"launch -> first prediction: median {statistics.median(starts):.2f} s "
        f"(runs: {', '.join(f'{s:.2f}' for s in starts)}; target < 3 s)"
    )

    env = {"MLSTEPS_DATA_DIR": str(work / "serve"), "MLSTEPS_ACCESS_LOG": "false", "MLSTEPS_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "mlsteps", "bootstrap"], env={**os.environ, **env}, check=True)
    real, real_port = serve([sys.executable, "-m", "mlsteps", "serve", "--port"], env)
    bare, bare_port = serve([sys.executable, str(Path(__file__).with_name("bare_app.py"))], {})
    try:
        wait_ready(real_port)
        wait_ready(bare_port)
        single = json.dumps({"instances": [ROW]}).encode()
        batch = json.dumps({"instances": [ROW] * 1000}).encode()
        # Alternate the two servers, so a burst of noise on the machine hits both alike.
        rounds = [
            (load(bare_port, single, args.seconds, args.clients), load(real_port, single, args.seconds, args.clients))
            for _ in range(args.rounds)
        ]
        baseline = median_run([bare_run for bare_run, _ in rounds])
        one = median_run([real_run for _, real_run in rounds])
        many = load(real_port, batch, args.seconds, args.clients)
        for name, figures in (
            ("bare endpoint, constant JSON", baseline),
            ("/predict, 1 row", one),
            ("/predict, 1,000-row batches", many),
        ):
            print(
                f"{name:30s} {figures['requests_per_s']:8.0f} req/s  p50 {figures['p50_ms']:6.2f} ms  "
                f"p99 {figures['p99_ms']:6.2f} ms  statuses {figures['statuses']}"
            )
        ratios = [real_run["requests_per_s"] / bare_run["requests_per_s"] for bare_run, real_run in rounds]
        print(
            f"single-row ratio to the bare endpoint: {one['requests_per_s'] / baseline['requests_per_s']:.2f} "
            f"(medians of {args.rounds} alternating rounds; per round {', '.join(f'{r:.2f}' for r in ratios)}; "
            f"target >= 0.8)"
        )
        print(f"batch throughput: {many['requests_per_s'] * 1000:,.0f} rows/s (target > 100,000)")

        trainer = subprocess.Popen(
            [sys.executable, "-m", "mlsteps", "train", "--every", "1"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            swap = load(real_port, single, max(args.seconds, 5.0), args.clients)
        finally:
            trainer.terminate()
            trainer.wait(10)
        connection = http.client.HTTPConnection("127.0.0.1", real_port)
        connection.request("GET", "/readyz")
        version = json.loads(connection.getresponse().read())["model_version"]
        failures = sum(count for status, count in swap["statuses"].items() if status != 200)
        print(
            f"hot swap (a model published every 1 s under load): {sum(swap['statuses'].values())} requests, "
            f"{failures} non-200, serving v{version} at the end (target: 0 non-200)"
        )
    finally:
        for process in (real, bare):
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    main()
