"""What several test modules need, written once. Fixtures live in conftest.py, helpers here.

conftest.py registers this module (and images, kube_harness) for pytest's assert rewriting, so a
failing `assert` inside a helper reports its values as one in a test does. Import from here, never
from conftest or from another test module.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from importlib.util import module_from_spec, spec_from_file_location
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIRE_E2E = os.environ.get("MLSTEPS_REQUIRE_E2E") == "1"
LAUNCHER = REPO_ROOT / "src" / "single_function" / "single_function_all_ml_steps.py"
VENV_BIN = Path(sys.executable).parent  # where the dev dependencies' programs are (checkov, ...)
SAMPLE = {"instances": [[5.1, 3.5, 1.4, 0.2]]}  # one iris flower: a setosa
# The example of src/my_ml/example.py, as docs/your-own-model.md runs it at every level.
LEARNERS_CODE = {
    "MLSTEPS_DATASET": "python:my_ml.example:load_table",
    "MLSTEPS_PIPELINE": "my_ml.example:make_pipeline",
}
LEARNERS_ESTIMATOR = "StandardScaler -> PolynomialFeatures -> LogisticRegression"
# A penguin as src/my_ml/penguins_sample.csv holds one (text, and null where it is not known): a Gentoo.
PENGUIN_ROW = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 15.0,
    "flipper_length_mm": 217,
    "sex": None,
    "body_mass_g": 5100,
}
# Run by the image's python: where the image holds the penguins sample (package data of my_ml).
FIND_PENGUINS_CSV = (
    "import my_ml, pathlib; p = pathlib.Path(my_ml.__file__).with_name('penguins_sample.csv'); "
    "print(p if p.is_file() else f'not in the image: {p}')"
)
WINE_ROW = {
    "instances": [[14.23, 1.71, 2.43, 15.6, 127.0, 2.8, 3.06, 0.28, 2.29, 5.64, 1.04, 3.92, 1065.0, 43.5438, 6.9717]]
}  # wine #0 (class_0), with the example loader's two engineered features


def check_learners_code_answers(base_url: str) -> dict:
    """serve answers with the example pipeline, trained on the example loader's data; returns /model."""
    status, model = http_json(f"{base_url}/model")
    assert status == 200 and model["estimator"] == LEARNERS_ESTIMATOR, model
    assert model["pipeline"] == LEARNERS_CODE["MLSTEPS_PIPELINE"] and model["source"].startswith("python:my_ml")
    status, answer = http_json(f"{base_url}/predict", WINE_ROW)
    assert status == 200 and answer["model_version"] == model["version"] and answer["predictions"] == ["class_0"]
    return model


# -- runtimes ------------------------------------------------------------------------------------


def clear_mlsteps_variables(patch: pytest.MonkeyPatch) -> None:
    """Unset every MLSTEPS_* variable from the shell (for as long as `patch` lasts), except the CI switch."""
    for name in list(os.environ):
        if name.startswith("MLSTEPS_") and name != "MLSTEPS_REQUIRE_E2E":
            patch.delenv(name)


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


def compose_command() -> list[str] | None:
    """`docker compose` (v2, what a learner has) when it works, else Debian's `docker-compose` v1."""
    if command_works("docker", "compose", "version"):
        return ["docker", "compose"]
    if command_works("docker-compose", "version"):
        return ["docker-compose"]
    return None


def need_compose() -> list[str]:
    """The compose command, with a Docker engine to run it (a skip without them, a failure in CI)."""
    need(command_works("docker", "info"), "no Docker engine answers `docker info` (bash scripts/runtimes/docker.sh)")
    compose = compose_command()
    need(compose is not None, "neither `docker compose` nor `docker-compose` is installed (scripts/runtimes/docker.sh)")
    return compose


# -- ports and HTTP ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def port_in_use() -> Iterator[int]:
    """A port on 127.0.0.1 that something listens on until the block ends."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def http_json(url: str, body: dict | None = None, timeout: float = 5) -> tuple[int, dict]:
    """GET `url` (POST when `body` is given, as JSON): the status and the JSON answer. An HTTP error
    status is returned, not raised; a connection error raises OSError."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy and return it; fail naming `what` after `timeout`
    seconds. Connection errors and half-written answers (OSError, ValueError) count as "not yet"."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError) as error:
            last_error = error
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


# -- the repository's own files ------------------------------------------------------------------


@functools.cache
def load_launcher() -> ModuleType:
    """The level-1 launcher as a module (it is a script, not part of the package), loaded once."""
    spec = spec_from_file_location("single_function_all_ml_steps", LAUNCHER)
    launcher = module_from_spec(spec)
    spec.loader.exec_module(launcher)
    return launcher


def headings(path: Path) -> list[str]:
    """The `## ` headings of a Markdown file, in order."""
    return [heading.strip() for heading in re.findall(r"^## (.+)$", path.read_text(), re.M)]


def deep_merge(base: dict, override: dict) -> dict:
    """`base` with `override` merged in, key by key at every depth (as Helm merges values); copies."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# -- the volume, whichever store holds it ------------------------------------------------------------

sys.path.insert(0, str(REPO_ROOT / "scripts"))  # scripts/seaweedfs.py: the server `make store` starts too


def start_seaweedfs(directory: Path):
    """A SeaweedFS of its own in `directory`, on free ports, ready (its bucket made): tests that kill it use this."""
    from seaweedfs import SeaweedFS, weed_binary

    server = SeaweedFS(directory, free_port_block(4))
    server.start(weed_binary())
    try:
        server.wait_ready()
    except RuntimeError:
        server.kill()
        raise
    return server


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports whose gRPC twins (port + 10000) are free too, below 55536."""
    import random

    for _ in range(200):
        first = random.randrange(20000, 45000)
        ports = [p for port in range(first, first + count) for p in (port, port + 10000)]
        try:
            with contextlib.ExitStack() as stack:
                for port in ports:
                    probe = stack.enter_context(socket.socket())
                    probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no block of free ports")


def volume_read(settings, key: str) -> bytes | None:
    """An object of the settings' volume ("models/v000001/model.pkl"), whichever store holds it."""
    from mlsteps.volume.location import volume_of

    return volume_of(settings).get(key)


def volume_write(settings, key: str, data: bytes | str) -> None:
    """Overwrite an object, as anyone with write access to the volume could (a tampering test's tool)."""
    from mlsteps.volume.location import volume_of

    volume_of(settings).put(key, data.encode() if isinstance(data, str) else data)


def volume_keys(settings, prefix: str) -> list[str]:
    from mlsteps.volume.location import volume_of

    return sorted(volume_of(settings).list(prefix))
