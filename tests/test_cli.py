"""The CLI every level calls: one run by default, a schedule on request, a clean stop on SIGTERM."""

import signal
import subprocess
import sys
import time

import pytest

from mlsteps.cli import build_parser, main
from mlsteps.registry import list_versions
from mlsteps.snapshots import list_snapshots


def test_periodic_steps_run_once_by_default(settings, capsys):
    assert main(["load-data"]) == 0
    assert main(["train"]) == 0
    assert "published model v1" in capsys.readouterr().err
    assert len(list_snapshots(settings.snapshots_dir)) == 1 and list_versions(settings.models_dir) == [1]


def test_bootstrap_gives_a_fresh_volume_a_model(settings, capsys):
    assert main(["bootstrap"]) == 0
    assert "wrote snapshot 000001" in capsys.readouterr().err
    assert list_versions(settings.models_dir) == [1]


def test_train_without_data_exits_0_for_the_next_scheduled_run(settings, capsys):
    assert main(["train"]) == 0
    assert "no data snapshot yet" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["train", "--every", "-1"], "--every -1 must be 0 or more."),
    (["load-data", "--every", "nan"], "--every nan must be a finite number."),
    (["train", "--cron", "61 * * * *"], "--cron '61 * * * *' is not a valid cron schedule"),
    (["serve", "--port", "0"], "--port 0 must be 1 or more."),
    (["serve", "--port", "http"], "--port http is not a whole number."),
    (["load-data", "--dataset", "mnist"], "--dataset mnist is not a known dataset"),
])
def test_a_bad_flag_is_named_in_one_sentence_exit_2(settings, capsys, args, words):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlsteps {args[0]}: error: {words}") and err.count("\n") == 1


def test_a_bad_variable_is_named_not_a_flag(settings, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_TRAIN_EVERY", "-5")
    assert main(["train"]) == 2
    assert capsys.readouterr().err == "mlsteps train: error: MLSTEPS_TRAIN_EVERY='-5' must be 0 or more.\n"


def test_the_console_entry_point_exits_2_without_a_traceback(settings):
    result = subprocess.run([sys.executable, "-m", "mlsteps", "train", "--every", "-1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr == "mlsteps train: error: --every -1 must be 0 or more.\n"


def test_every_repeats_until_sigterm(settings):
    process = subprocess.Popen([sys.executable, "-m", "mlsteps", "load-data", "--every", "0.1"],
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(list_snapshots(settings.snapshots_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    log = process.stderr.read()
    assert "scheduled every 0.1s" in log and "stopping (SIGTERM)" in log
    assert len(list_snapshots(settings.snapshots_dir)) >= 3


def test_help_lists_every_command():
    text = build_parser().format_help()
    assert all(command in text for command in ("load-data", "train", "bootstrap", "serve"))
