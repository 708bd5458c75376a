"""`mlsteps doctor --level N`: check what a level needs, one line per check, with a fix for each failure."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlsteps.config import ConfigError, Settings, ensure_writable_dir

PACKAGES = ("fastapi", "uvicorn", "scikit-learn", "apscheduler", "multiprocessing-logging")
DOCKERFILE = Path("src") / "docker_compose" / "Dockerfile"
LOCAL_BASE_IMAGE = "mlsteps-python:local"  # what scripts/runtimes/base_image.sh builds
INSTALL_DOCKER = "install Docker: https://docs.docker.com/get-docker/"
INSTALL_MINIKUBE = "install minikube: https://minikube.sigs.k8s.io/docs/start/"
INSTALL_KUBECTL = "install kubectl, or use `minikube kubectl --` in its place"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _run(*argv: str, timeout: float = 20) -> tuple[bool, str]:
    """Run a command; (exit code 0, its first output line). A missing program is (False, reason)."""
    if shutil.which(argv[0]) is None:
        return False, f"{argv[0]} is not installed"
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, str(error)
    lines = (result.stdout or result.stderr).strip().splitlines()
    return result.returncode == 0, lines[0] if lines else ""


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check(
        "python",
        sys.version_info >= (3, 11),
        version,
        "install Python 3.11 or newer (https://www.python.org/downloads/)",
    )


def check_packages() -> Check:
    missing, found = [], []
    for name in PACKAGES:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Check(
            "dependencies",
            False,
            f"missing {', '.join(missing)}",
            "run `make setup` from the repository root, then use `pipenv run ...`",
        )
    return Check("dependencies", True, ", ".join(found))


def check_port(settings: Settings) -> Check:
    """Bind the port as uvicorn will: with SO_REUSEADDR, so the closed connections a stopped serve leaves
    (TIME_WAIT, for about a minute) do not count as in use; a listening socket still does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
            return Check("port", True, f"{settings.host}:{settings.port} is free")
        except OSError:
            return Check(
                "port",
                False,
                f"{settings.host}:{settings.port} is in use",
                "stop what uses it (`lsof -i :PORT`), or choose another with --port / MLSTEPS_PORT",
            )


def check_data_dir(settings: Settings) -> Check:
    if settings.store:
        return check_store(settings)
    try:
        ensure_writable_dir(settings.data_dir)
        return Check("data dir", True, f"{settings.data_dir.resolve()} is writable")
    except ConfigError as error:
        return Check("data dir", False, str(error), "set MLSTEPS_DATA_DIR (or --data-dir) to a folder you can write")


def check_store(settings: Settings) -> Check:
    """MLSTEPS_STORE answers: its endpoint, bucket and credentials (one write and one delete)."""
    from mlsteps.errors import UserError
    from mlsteps.volume.location import volume_of

    try:
        volume_of(settings).check()
        return Check("store", True, f"{settings.store} answers and can be written")
    except UserError as error:
        return Check(
            "store",
            False,
            str(error),
            "start the store (make store), or fix AWS_ENDPOINT_URL, the bucket or the AWS_* credentials",
        )


def check_command(name: str, argv: tuple[str, ...], fix: str, install: str = "") -> Check:
    """Run `argv`; `fix` says what to do when it fails, `install` (if given) when the program is missing."""
    ok, detail = _run(*argv)
    missing = install and shutil.which(argv[0]) is None
    return Check(name, ok, detail, install if missing else fix)


def check_compose() -> Check:
    """Compose v2 (`docker compose`, as the docs type it) or v1 (`docker-compose`): say which to type."""
    ok, detail = _run("docker", "compose", "version")
    if ok:
        return Check("docker compose", True, f"{detail}: type `docker compose` as the docs do")
    ok, detail = _run("docker-compose", "version")
    if ok:
        return Check("docker compose", True, f"{detail}: type `docker-compose` wherever the docs say `docker compose`")
    return Check(
        "docker compose",
        False,
        "neither `docker compose` (v2) nor `docker-compose` (v1) answers",
        "install the Compose plugin (Docker Desktop has it; Debian/Ubuntu: apt install docker-compose-plugin)",
    )


def base_image() -> str | None:
    """The image level 2 builds on: PYTHON_IMAGE (compose passes it to the build), else the Dockerfile's
    own default (`ARG PYTHON_IMAGE=...`); None when no Dockerfile is found."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    for root in source_roots():
        if (root / DOCKERFILE).is_file():
            found = re.search(r"^ARG PYTHON_IMAGE=(\S+)", (root / DOCKERFILE).read_text(), re.MULTILINE)
            if found:
                return found.group(1)
    return None


def check_base_image() -> Check:
    """The build's first line needs its base image: here already, or from a registry that answers."""
    image = base_image()
    if image is None:
        return Check("base image", False, f"no {DOCKERFILE} here", "run doctor from the repository root")
    if shutil.which("docker") is None:
        return Check("base image", False, "docker is not installed", INSTALL_DOCKER)
    if _run("docker", "image", "inspect", image)[0]:
        return Check("base image", True, f"{image} is here")
    reachable, detail = _run("docker", "manifest", "inspect", image)  # asks the registry, downloads nothing
    if reachable:
        return Check("base image", True, f"{image} can be pulled")
    if image != LOCAL_BASE_IMAGE and _run("docker", "image", "inspect", LOCAL_BASE_IMAGE)[0]:
        fix = f"use the local one: PYTHON_IMAGE={LOCAL_BASE_IMAGE} docker compose up --build"
    else:
        fix = (
            "without a registry, build a local one (Debian, as root, from the repository root): "
            f"bash scripts/runtimes/base_image.sh, then PYTHON_IMAGE={LOCAL_BASE_IMAGE} docker compose up --build"
        )
    why = detail.rsplit(": ", 1)[-1]  # the registry's answer, or the network's: "no such host"
    return Check("base image", False, f"{image} is not here and cannot be pulled ({why})", fix)


def checks_for(level: int, settings: Settings) -> list[Callable[[], Check]]:
    checks = [check_python]
    if level == 1:
        checks += [check_packages, lambda: check_port(settings), lambda: check_data_dir(settings)]
    if level == 2:
        checks += [
            lambda: check_command("docker", ("docker", "--version"), INSTALL_DOCKER),
            lambda: check_command(
                "docker engine",
                ("docker", "info", "--format", "{{.ServerVersion}}"),
                "start Docker Desktop, or on Linux: sudo systemctl start docker",
                install=INSTALL_DOCKER,
            ),
            check_compose,
            check_base_image,
            lambda: check_port(settings),
        ]
    if level >= 3:
        checks += [
            lambda: check_command("minikube", ("minikube", "version", "--short"), INSTALL_MINIKUBE),
            lambda: check_command(
                "minikube status",
                ("minikube", "status", "--format", "{{.Host}} {{.APIServer}}"),
                "start the cluster: minikube start",
                install=INSTALL_MINIKUBE,
            ),
            lambda: check_command("kubectl", ("kubectl", "version", "--client"), INSTALL_KUBECTL),
            lambda: check_command(
                "kubectl context",
                ("kubectl", "config", "current-context"),
                "point kubectl at minikube: kubectl config use-context minikube",
                install=INSTALL_KUBECTL,
            ),
        ]
    if level == 4:
        checks.append(check_helm)
    return checks


def source_roots() -> list[Path]:
    """Where the repository may be: the folder doctor runs in (its root, as `make doctor` runs it) and
    the source tree this package comes from."""
    return list(dict.fromkeys([Path.cwd(), Path(__file__).resolve().parents[3]]))


def local_helms() -> list[Path]:
    """Where scripts/runtimes/helm.sh puts helm: .tools/bin of each of the source roots."""
    return [root / ".tools" / "bin" / "helm" for root in source_roots()]


def check_helm() -> Check:
    """helm on PATH, as the docs type it; else name the one scripts/runtimes/helm.sh installed and how to
    put it on PATH."""
    install = "install Helm 3 or newer: https://helm.sh/docs/intro/install/ (or: bash scripts/runtimes/helm.sh)"
    ok, detail = _run("helm", "version", "--short")
    if ok or shutil.which("helm"):
        return Check("helm", ok, detail, install)
    for local in local_helms():
        if local.is_file() and _run(str(local), "version", "--short")[0]:
            version = _run(str(local), "version", "--short")[1]
            return Check(
                "helm",
                False,
                f"{local} ({version}) is not on PATH",
                f'put it on PATH, from the repository root: export PATH="$PATH:{local.parent}"',
            )
    return Check("helm", False, detail, install)


def run_doctor(level: int, settings: Settings) -> int:
    """Print one line per check and a fix under each failure; exit code 1 when anything failed."""
    print(f"mlsteps doctor: what level {level} needs")
    failed = 0
    for check in checks_for(level, settings):
        result = check()
        print(f"  {'ok  ' if result.ok else 'FAIL'}  {result.name:16s} {result.detail}")
        if not result.ok:
            failed += 1
            print(f"        fix: {result.fix}")
    print("all good: go ahead" if not failed else f"{failed} check(s) failed: fix them, then run doctor again")
    return 1 if failed else 0
