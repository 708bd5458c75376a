"""Shared fixtures. Shared helpers (need, free_port, wait_for, ...) live in helpers.py, not here."""

from __future__ import annotations

import pytest

from mlsteps.config import load_settings

# Before any test module imports them: a failing assert inside a helper then shows its values, as in a test.
pytest.register_assert_rewrite("helpers", "images", "kube_harness")

from helpers import clear_mlsteps_variables  # noqa: E402  (after the rewrite is registered)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings on a fresh temporary data dir, with no MLSTEPS_* variable leaking in from the shell."""
    clear_mlsteps_variables(monkeypatch)
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(tmp_path / "volume"))
    return load_settings()


@pytest.fixture
def trained(settings):
    """`settings` with one snapshot and one promoted model (v1) on its volume."""
    from mlsteps.load_data import load_data
    from mlsteps.train import train

    load_data(settings)
    train(settings)
    return settings


@pytest.fixture
def client(trained):
    """A TestClient of serve's app on the `trained` volume, its lifespan (model loading) run."""
    from fastapi.testclient import TestClient

    from mlsteps.serve import create_app

    with TestClient(create_app(trained)) as client:
        yield client
