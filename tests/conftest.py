"""Shared fixtures. Shared helpers (need, free_port, wait_for, ...) live in helpers.py, not here."""

from __future__ import annotations

import os

import pytest

from mlsteps.config import load_settings

# Before any test module imports them: a failing assert inside a helper then shows its values, as in a test.
pytest.register_assert_rewrite("helpers", "images", "kube_harness")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings on a fresh temporary data dir, with no MLSTEPS_* variable leaking in from the shell."""
    for name in list(os.environ):
        if name.startswith("MLSTEPS_") and name != "MLSTEPS_REQUIRE_E2E":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(tmp_path / "volume"))
    return load_settings()
