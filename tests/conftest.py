"""Shared fixtures. Runtime-needing tests call `need(...)`: a skip on a learner's machine, a failure in CI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from mlsteps.config import load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_E2E = os.environ.get("MLSTEPS_REQUIRE_E2E") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip with `reason` when `condition` is false, or fail when MLSTEPS_REQUIRE_E2E=1 (CI)."""
    if condition:
        return
    if REQUIRE_E2E:
        pytest.fail(f"required by MLSTEPS_REQUIRE_E2E=1: {reason}", pytrace=False)
    pytest.skip(reason)


def command_works(*argv: str) -> bool:
    """True when the program exists and answers `argv` with exit code 0 (e.g. `docker info`)."""
    if shutil.which(argv[0]) is None:
        return False
    try:
        return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings on a fresh temporary data dir, with no MLSTEPS_* variable leaking in from the shell."""
    for name in list(os.environ):
        if name.startswith("MLSTEPS_") and name != "MLSTEPS_REQUIRE_E2E":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(tmp_path / "volume"))
    return load_settings()
