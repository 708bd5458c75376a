"""Level 2 benchmark: image size, cold build, rebuild after a code-only change, `up` to first prediction.

Prints figures; asserts nothing. Targets: a code-only rebuild under 10 s, a first prediction under
20 s after `docker compose up` (warm build cache). Needs a Docker engine and compose:

    .venv/bin/python benchmarks/bench_level2.py            # everything (the cold build takes minutes)
    .venv/bin/python benchmarks/bench_level2.py --no-cold  # skip the build without cache

The builds run on a copy of the build context, so the code change never touches your checkout,
and are tagged mlsteps:bench (removed at the end); the `up` measurement uses compose.yaml as it is,
under its own project name, port and volume, all removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))
from images import DOCKERFILE, python_image  # noqa: E402  (the tests' own helpers)
from kube_harness import free_port  # noqa: E402

COMPOSE_FILE = REPO_ROOT / "src" / "docker_compose" / "compose.yaml"
BENCH_TAG = "mlsteps:bench"
CONTEXT_FILES = ["Pipfile", "Pipfile.lock", "pyproject.toml", "README.md", ".dockerignore"]
SAMPLE = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def copy_context(target: Path) -> Path:
    """The files the Dockerfile copies, plus the Dockerfile, in a scratch build context."""
    for name in CONTEXT_FILES:
        shutil.copy2(REPO_ROOT / name, target / name)
    shutil.copytree(
        REPO_ROOT / "src" / "common",
        target / "src" / "common",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    (target / "src" / "docker_compose").mkdir(parents=True)
    shutil.copy2(DOCKERFILE, target / "src" / "docker_compose" / "Dockerfile")
    return target


def timed_build(context: Path, *extra: str) -> float:
    base = python_image()
    argv = [
        "docker",
        "build",
        "-q",
        "-f",
        str(context / "src/docker_compose/Dockerfile"),
        "-t",
        BENCH_TAG,
        *(["--build-arg", f"PYTHON_IMAGE={base}"] if base else []),
        *extra,
        str(context),
    ]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


def compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"]


def first_prediction_after_up() -> tuple[float, float, int]:
    """Seconds until `up --detach` returns and until /predict first answers 200, and the version."""
    project, port = f"mlsteps-bench-{uuid.uuid4().hex[:8]}", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLSTEPS_")} | {"MLSTEPS_PORT": str(port)}
    if python_image():
        env["PYTHON_IMAGE"] = python_image()
    argv = [*compose_command(), "-p", project, "-f", str(COMPOSE_FILE)]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=SAMPLE, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        started = time.perf_counter()
        subprocess.run([*argv, "up", "--build", "--detach"], env=env, check=True, capture_output=True)
        up_returned = time.perf_counter() - started
        while time.perf_counter() - started < 120:
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    version = json.loads(response.read())["model_version"]
                    return up_returned, time.perf_counter() - started, version
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise SystemExit("no prediction within 120 s of `up`")
    finally:
        subprocess.run([*argv, "down", "-v", "--timeout", "10"], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-cold", action="store_true", help="skip the build without cache")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlsteps-bench-") as scratch:
        context = copy_context(Path(scratch))
        if args.no_cold:
            timed_build(context)
        else:
            rows.append(("cold build (--no-cache, downloads the packages)", timed_build(context, "--no-cache"), "s"))
        rows.append(("rebuild, nothing changed", timed_build(context), "s"))
        with open(context / "src/common/mlsteps/__init__.py", "a") as module:
            module.write(f"\n# benchmark edit {uuid.uuid4().hex}\n")
        rows.append(("rebuild after a code-only change (target < 10 s)", timed_build(context), "s"))
        size = int(
            subprocess.run(
                ["docker", "image", "inspect", "-f", "{{.Size}}", BENCH_TAG], check=True, capture_output=True, text=True
            ).stdout
        )
        rows.append(("image size", size / 1e6, "MB"))
    subprocess.run(["docker", "image", "rm", BENCH_TAG], capture_output=True)
    up_returned, first_prediction, version = first_prediction_after_up()
    rows.append(("`up --build --detach` returns (warm cache)", up_returned, "s"))
    rows.append((f"`up` to first prediction (model v{version}; target < 20 s)", first_prediction, "s"))

    print(
        f"Level 2 (Docker Compose), base image {python_image() or 'python:3.12-slim'}, "
        f"{' '.join(compose_command())}, {os.cpu_count()} CPUs"
    )
    width = max(len(name) for name, _, _ in rows)
    for name, value, unit in rows:
        print(f"  {name:<{width}}  {value:8.1f} {unit}")


if __name__ == "__main__":
    main()
