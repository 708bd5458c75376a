"""Memory benchmark: peak RSS of `mlsteps load-data` on a learner's CSV, per MB of CSV.

Prints figures; asserts nothing. The baseline, measured in the same run, is the same command on the
bundled iris dataset (imports and a 300-row snapshot): what a CSV adds on top of it is the cost of
reading it. Each run is a fresh process on a fresh temporary volume; the level-3/4 limit of the
load-data container is printed beside the figures.

    .venv/bin/python benchmarks/bench_memory.py              # 5, 20 and 50 MB CSVs
    .venv/bin/python benchmarks/bench_memory.py --sizes 10
"""

from __future__ import annotations

import argparse
import os
import resource
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
        env = {**os.environ, "MLSTEPS_DATASET": dataset, "MLSTEPS_DATA_DIR": volume}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "mlsteps", "load-data"], env=env, check=True, capture_output=True)
        seconds = time.monotonic() - started
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, seconds


def load_data_limit() -> str:
    cronjob = yaml.safe_load((REPO_ROOT / "src/kubectl/03-load-data-cronjob.yaml").read_text())
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    return container["resources"]["limits"]["memory"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[5, 20, 50], help="CSV sizes in MB")
    args = parser.parse_args()
    # ru_maxrss of children is the largest child so far: measure from the smallest run to the largest.
    baseline, _ = peak_of_load_data("iris")
    print(f"load-data on iris (baseline: imports and a 300-row snapshot): peak {baseline:.0f} MiB")
    print(f"level 3/4 load-data memory limit: {load_data_limit()}")
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
