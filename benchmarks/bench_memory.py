"""Memory benchmark: each step's peak RSS against its level-3/4 limit, and load-data's per MB of CSV.

Prints figures; asserts nothing. First each step once on the bundled iris data (load-data, train,
and serve idle after its first model), beside the memory limit its container has in src/kubectl.
Then load-data on generated CSV files: the baseline, measured in the same run, is load-data on a
1 kB CSV (the imports, nearly no data); what a larger CSV adds on top of it is the cost of reading it. Each run is
a fresh process on a fresh temporary volume.

    .venv/bin/python benchmarks/bench_memory.py              # 5, 20 and 50 MB CSVs
    .venv/bin/python benchmarks/bench_memory.py --sizes 10
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
FEATURES = 8


def write_csv(path: Path, megabytes: float) -> None:
    """A classification CSV of about `megabytes` MB: 8 numeric features and a 3-class target."""
    rng = np.random.default_rng(0)
    rows = int(megabytes * 1e6 / (FEATURES * 9 + 2))
    table = np.column_stack([rng.normal(size=(rows, FEATURES)).round(5), rng.integers(0, 3, size=rows)])
    header = ",".join([f"f{i}" for i in range(FEATURES)] + ["target"])
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt=["%.5f"] * FEATURES + ["%d"])


def peak_of_load_data(dataset: str) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one `mlsteps load-data` run in a fresh process."""
    with tempfile.TemporaryDirectory() as volume:
        started = time.monotonic()
        peak = peak_of([sys.executable, "-m", "mlsteps", "load-data"], volume, {"MLSTEPS_DATASET": dataset})
        return peak, time.monotonic() - started


def memory_limits() -> dict[str, str]:
    """component -> the memory limit of its container in the level-3 manifests."""
    limits = {}
    for path in sorted((REPO_ROOT / "src/kubectl").glob("[0-9]*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            spec = (obj or {}).get("spec", {})
            template = spec.get("jobTemplate", {}).get("spec", spec).get("template")
            if template:
                for container in template["spec"].get("initContainers", []) + template["spec"]["containers"]:
                    limits[container["name"]] = container["resources"]["limits"]["memory"]
    return limits


def peak_of(argv: list[str], volume: str, env: dict[str, str] | None = None) -> float:
    """Peak RSS in MiB of one command, measured by a fresh wrapper process whose only child it is."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    env = {**os.environ, "MLSTEPS_DATA_DIR": volume, **(env or {})}
    result = subprocess.run([sys.executable, "-c", code, *argv], env=env, check=True, capture_output=True, text=True)
    return float(result.stdout)


def serve_idle_rss(volume: str) -> float:
    """serve's resident memory once it answers /readyz with the volume's model."""
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MLSTEPS_DATA_DIR": volume, "MLSTEPS_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "mlsteps", "serve"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        status = Path(f"/proc/{server.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024
    finally:
        server.terminate()
        server.wait(10)


def steps_against_limits() -> None:
    limits = memory_limits()
    with tempfile.TemporaryDirectory() as volume:
        figures = {
            "load-data": peak_of([sys.executable, "-m", "mlsteps", "load-data"], volume),
            "train": peak_of([sys.executable, "-m", "mlsteps", "train"], volume),
            "serve": serve_idle_rss(volume),
        }
    print("each step on iris (MiB), against its container's memory limit at levels 3 and 4:")
    for step, mib in figures.items():
        kind = "idle RSS" if step == "serve" else "peak RSS"
        print(f"  {step:10s} {kind} {mib:6.0f}   limit {limits.get(step, '?')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[5, 20, 50], help="CSV sizes in MB")
    args = parser.parse_args()
    steps_against_limits()
    with tempfile.TemporaryDirectory() as scratch:
        tiny = Path(scratch) / "tiny.csv"
        write_csv(tiny, 0.001)  # a dozen rows: the imports and the step itself, nearly no data
        baseline, _ = peak_of_load_data(f"csv:{tiny}")
    print(f"\nload-data on a 1 kB CSV (the baseline: what reading any CSV costs): peak {baseline:.0f} MiB")
    print(f"level 3/4 load-data memory limit: {memory_limits().get('load-data')}")
    print(f"{'CSV MB':>7} {'rows':>9} {'peak MiB':>9} {'over baseline':>14} {'MiB per MB':>11} {'seconds':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for megabytes in sorted(args.sizes):
            path = Path(scratch) / f"data-{megabytes:g}.csv"
            write_csv(path, megabytes)
            size = path.stat().st_size / 1e6
            rows = sum(1 for _ in path.open()) - 1
            peak, seconds = peak_of_load_data(f"csv:{path}")
            print(
                f"{size:7.1f} {rows:9d} {peak:9.0f} {peak - baseline:14.0f} {(peak - baseline) / size:11.2f} "
                f"{seconds:8.1f}"
            )


if __name__ == "__main__":
    main()
