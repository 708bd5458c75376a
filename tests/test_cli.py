"""The CLI every level calls: one run by default, a schedule on request, a clean stop on SIGTERM."""

import os
import signal
import subprocess
import sys
import time

import pytest

from mlsteps.cli import build_parser
from mlsteps.registry import list_versions
from mlsteps.snapshots import list_snapshots


def mlsteps(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "mlsteps", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120, **kwargs)


def test_periodic_steps_run_once_by_default(settings):
    assert mlsteps("load-data").returncode == 0
    result = mlsteps("train")
    assert result.returncode == 0 and "published model v1" in result.stderr
    assert len(list_snapshots(settings.snapshots_dir)) == 1 and list_versions(settings.models_dir) == [1]


def test_bootstrap_gives_a_fresh_volume_a_model(settings):
    result = mlsteps("bootstrap")
    assert result.returncode == 0 and "wrote snapshot 000001" in result.stderr
    assert list_versions(settings.models_dir) == [1]


def test_train_without_data_exits_0_for_the_next_scheduled_run(settings):
    result = mlsteps("train")
    assert result.returncode == 0 and "no data snapshot yet" in result.stderr


@pytest.mark.parametrize("args, words", [
    (["train", "--every", "-1"], "--every -1 must be 0 or more"),
    (["train", "--cron", "61 * * * *"], "--cron='61 * * * *' is not a valid cron schedule"),
    (["serve", "--port", "0"], "MLSTEPS_PORT=0 must be a port number"),
])
def test_bad_flags_exit_2_with_one_sentence(settings, args, words):
    result = mlsteps(*args)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_every_repeats_until_sigterm(settings):
    process = subprocess.Popen([sys.executable, "-m", "mlsteps", "load-data", "--every", "0.3"],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(list_snapshots(settings.snapshots_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    log = process.stderr.read()
    assert "scheduled every 0.3s" in log and "stopping (SIGTERM)" in log
    assert len(list_snapshots(settings.snapshots_dir)) >= 3


def test_help_lists_every_command():
    text = build_parser().format_help()
    assert all(command in text for command in ("load-data", "train", "bootstrap", "serve"))
