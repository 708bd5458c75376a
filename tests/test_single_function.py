"""Level 1 end to end: the launcher as a learner runs it, as real processes on a real port."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO_ROOT, free_port

LAUNCHER = REPO_ROOT / "src" / "single_function" / "single_function_all_ml_steps.py"
pytestmark = pytest.mark.slow



def call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
def launcher(tmp_path, settings):
    port = free_port()
    log_path = tmp_path / "launcher.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(tmp_path / "volume"),
             "--load-data-every", "1", "--train-every", "1.5"],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, "MLSTEPS_RELOAD_SECONDS": "0.2"})
    yield process, f"http://127.0.0.1:{port}", log_path
    if process.poll() is None:
        process.kill()
        process.wait()


def test_level1_serves_updates_survives_a_crash_and_stops_cleanly(launcher):
    process, base, log_path = launcher
    wait_for(lambda: call(f"{base}/readyz")["status"] == "ready", 60, "/readyz")
    first = call(f"{base}/predict", {"instances": [[5.1, 3.5, 1.4, 0.2]]})
    assert first["predictions"] == ["setosa"]

    wait_for(lambda: call(f"{base}/model")["version"] > first["model_version"], 30, "a newer model")
    log = log_path.read_text()
    assert f"ready: API {base}  docs {base}/docs" in log
    pids = {step: int(pid) for step, pid in re.findall(r"started (\S+) \(pid (\d+)\)", log)}
    assert set(pids) == {"load-data", "train", "serve"}

    os.kill(pids["train"], signal.SIGKILL)  # the launcher must notice and restart it
    restarted = wait_for(lambda: re.search(r"started train \(pid (\d+)\)", log_path.read_text().split(
        f"train (pid {pids['train']}) exited with code -9; restarting")[-1]), 30, "train to restart")
    new_train = int(restarted.group(1))
    before = call(f"{base}/model")["version"]
    wait_for(lambda: call(f"{base}/model")["version"] > before, 30, "a model from the restarted train")

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    children = [pids["load-data"], pids["serve"], new_train]
    assert not [pid for pid in children if alive(pid)], "a step outlived the launcher"
    assert "all steps stopped" in log_path.read_text()


def test_port_in_use_is_one_sentence_and_exit_2(tmp_path, settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_each_option_with_its_variable():
    result = subprocess.run([sys.executable, str(LAUNCHER), "--help"], capture_output=True, text=True, timeout=60)
    for option, variable in (("--port", "MLSTEPS_PORT"), ("--data-dir", "MLSTEPS_DATA_DIR"),
                             ("--dataset", "MLSTEPS_DATASET"), ("--train-every", "MLSTEPS_TRAIN_EVERY")):
        assert option in result.stdout and variable in result.stdout
