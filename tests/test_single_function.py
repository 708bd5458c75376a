"""Level 1: the launcher as a learner runs it, as real processes on a real port; its one-shot paths in process.

The end-to-end test is the level-1 proof. `--help` and a port in use stop before any process starts, so
they call the launcher's `main` directly (docs/level-1-single-function.md's `--help` line still runs
as a real command in test_docs.py).
"""

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import (
    LAUNCHER,
    LEARNERS_CODE,
    SAMPLE,
    check_learners_code_answers,
    free_port,
    http_json,
    load_launcher,
    port_in_use,
    wait_for,
)


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
            [
                sys.executable,
                str(LAUNCHER),
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "volume"),
                "--load-data-every",
                "0.5",
                "--train-every",
                "0.7",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MLSTEPS_RELOAD_SECONDS": "0.2"},
        )
    yield process, f"http://127.0.0.1:{port}", log_path
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_level1_serves_updates_survives_a_crash_and_stops_cleanly(launcher):
    process, base, log_path = launcher

    def model_version() -> int:
        return http_json(f"{base}/model")[1].get("version", 0)

    wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 60)
    status, first = http_json(f"{base}/predict", SAMPLE)
    assert status == 200 and first["predictions"] == ["setosa"]

    wait_for("a newer model", lambda: model_version() > first["model_version"], 30)
    log = log_path.read_text()
    assert f"ready: API {base}  docs {base}/docs" in log
    pids = {step: int(pid) for step, pid in re.findall(r"started (\S+) \(pid (\d+)\)", log)}
    assert set(pids) == {"load-data", "train", "serve", "monitor"}
    # serve runs on uvicorn's production stack, installed from the lock: a C event loop and HTTP parser
    loaded = Path(f"/proc/{pids['serve']}/maps").read_text()
    assert "/uvloop/loop.cpython" in loaded and "/httptools/parser/parser.cpython" in loaded

    os.kill(pids["train"], signal.SIGKILL)  # the launcher must notice and restart it
    crashed = f"train (pid {pids['train']}) exited with code -9; restarting"
    # Only a start logged after the crash counts (before it is logged, the old start would match).
    restarted = wait_for(
        "train to restart",
        lambda: re.search(r"started train \(pid (\d+)\)", log_path.read_text().partition(crashed)[2]),
        30,
    )
    new_train = int(restarted.group(1))
    before = model_version()
    wait_for("a model from the restarted train", lambda: model_version() > before, 30)

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    children = [pids["load-data"], pids["serve"], pids["monitor"], new_train]
    assert not [pid for pid in children if alive(pid)], "a step outlived the launcher"
    assert "all steps stopped" in log_path.read_text()


@pytest.mark.slow
def test_ctrl_c_then_run_again_at_once_after_a_browser_was_connected(tmp_path, settings):
    """The docs' edit loop: Ctrl-C, then `make run` again, while the closed keep-alive connection of a
    browser waits in TIME_WAIT on the port. The second launcher must start, not say the port is in use."""
    port = free_port()
    command = [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(tmp_path / "volume")]
    first = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for("/readyz", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[1].get("status") == "ready", 60)
        browser = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        browser.request("GET", "/")
        browser.getresponse().read()
        os.killpg(first.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
        assert first.wait(timeout=15) == 0
        browser.close()
    finally:
        first.kill()
    second = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(
            "the second launcher",
            lambda: second.poll() is not None or http_json(f"http://127.0.0.1:{port}/readyz")[1].get("status"),
            60,
        )
        assert second.poll() is None, second.stderr.read()
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0


def test_port_in_use_is_one_sentence_and_exit_2(tmp_path, settings, capsys, monkeypatch):
    launcher = load_launcher()

    def started(*args):
        raise AssertionError("the launcher went on to start its steps with the port in use")

    monkeypatch.setattr(launcher, "Supervisor", started)  # so a broken check fails instead of serving
    with port_in_use() as port:
        code = launcher.main(["--port", str(port), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"port {port} on 127.0.0.1 is in use" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_bad_dataset_flag_is_one_line_after_the_log_naming_the_flag(tmp_path, settings):
    """A real launcher, stderr on a pipe as in a terminal: the log line, then the error on a line of its own
    (a queue thread once wrote the log line later, sometimes in the middle of the error's line), exit 2."""
    missing = tmp_path / "absent.csv"
    result = subprocess.run(
        [sys.executable, str(LAUNCHER), "--port", str(free_port()), "--data-dir", str(tmp_path / "volume")]
        + ["--dataset", f"csv:{missing}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    *logged, last = result.stderr.splitlines()
    assert result.returncode == 2
    assert last == f"single_function_all_ml_steps: error: --dataset csv:{missing}: no such file; " + (
        "give csv:<path to an existing file>."
    )
    assert [line for line in logged if not re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d launcher ", line)] == []
    assert "data dir:" in result.stderr


def test_help_shows_each_option_with_its_variable(capsys):
    with pytest.raises(SystemExit) as stop:
        load_launcher().main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option, variable in (
        ("--port", "MLSTEPS_PORT"),
        ("--data-dir", "MLSTEPS_DATA_DIR"),
        ("--dataset", "MLSTEPS_DATASET"),
        ("--train-every", "MLSTEPS_TRAIN_EVERY"),
    ):
        assert option in out and variable in out


def run_level1(tmp_path, extra_env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(LAUNCHER), "--port", str(port), "--data-dir", str(tmp_path / "volume")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **extra_env},
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.mark.e2e
def test_level1_runs_the_learners_own_loader_and_pipeline(tmp_path, settings):
    """The example of src/my_ml, named by two settings, as real processes (docs/your-own-model.md)."""
    process, base = run_level1(tmp_path, LEARNERS_CODE)
    try:
        wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 60)
        check_learners_code_answers(base)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.e2e
def test_level1_runs_a_clustering_task_end_to_end(tmp_path, settings):
    process, base = run_level1(tmp_path, {"MLSTEPS_DATASET": "blobs"})
    try:
        wait_for("/readyz", lambda: http_json(f"{base}/readyz")[1].get("status") == "ready", 60)
        model = http_json(f"{base}/model")[1]
        assert (
            model["task"] == "clustering" and model["metrics"]["k"] == 4 and model["tuning"]["scoring"] == "silhouette"
        )
        status, answer = http_json(f"{base}/predict", {"instances": [[-5, -5], [5, 5], [-5.1, -4.8]]})
        assert status == 200 and answer["predictions"][0] == answer["predictions"][2] != answer["predictions"][1]
        assert len(answer["distances"]) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
