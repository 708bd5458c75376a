"""The CLI every level calls: one run by default, a schedule on request, a clean stop on SIGTERM."""

import http.client
import signal
import subprocess
import sys
import time

import pytest

from helpers import free_port, wait_for
from mlsteps.cli import build_parser, main
from mlsteps.config import BUNDLED_DATASETS
from mlsteps.doctor import check_port
from mlsteps.volume.registry import list_versions
from mlsteps.volume.snapshots import list_snapshots


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


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "--every", "-1"], "--every -1 must be 0 or more."),
        (["load-data", "--every", "nan"], "--every nan must be a finite number."),
        (["train", "--cron", "61 * * * *"], "--cron '61 * * * *' is not a valid cron schedule"),
        (["serve", "--port", "0"], "--port 0 must be 1 or more."),
        (["serve", "--port", "http"], "--port http is not a whole number."),
        (["load-data", "--dataset", "mnist"], "--dataset mnist is not a known dataset"),
    ],
)
def test_a_bad_flag_is_named_in_one_sentence_exit_2(settings, capsys, args, words):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mlsteps {args[0]}: error: {words}") and err.count("\n") == 1


def test_a_bad_variable_is_named_not_a_flag(settings, capsys, monkeypatch):
    monkeypatch.setenv("MLSTEPS_TRAIN_EVERY", "-5")
    assert main(["train"]) == 2
    assert capsys.readouterr().err == "mlsteps train: error: MLSTEPS_TRAIN_EVERY='-5' must be 0 or more.\n"


def test_a_step_names_the_flag_the_user_typed_or_else_the_variable(settings, capsys, monkeypatch, tmp_path):
    """The step finds the bad value, long after the settings were read: its sentence still names what was typed."""
    missing = tmp_path / "absent.csv"
    assert main(["load-data", "--dataset", f"csv:{missing}"]) == 2
    err = capsys.readouterr().err
    assert f"load-data failed: --dataset csv:{missing}: no such file" in err and "MLSTEPS_" not in err
    monkeypatch.setenv("MLSTEPS_DATASET", f"csv:{missing}")
    assert main(["load-data"]) == 2
    assert f"load-data failed: MLSTEPS_DATASET='csv:{missing}': no such file" in capsys.readouterr().err


def test_the_console_entry_point_exits_2_without_a_traceback(settings):
    result = subprocess.run(
        [sys.executable, "-m", "mlsteps", "train", "--every", "-1"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and result.stderr == "mlsteps train: error: --every -1 must be 0 or more.\n"


def test_every_repeats_until_sigterm(settings):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlsteps", "load-data", "--every", "0.1"], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while len(list_snapshots(settings.snapshots_dir)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    log = process.stderr.read()
    assert "scheduled every 0.1s" in log and "stopping (SIGTERM)" in log
    assert len(list_snapshots(settings.snapshots_dir)) >= 3


def test_load_data_help_lists_every_dataset_it_takes(capsys):
    with pytest.raises(SystemExit):
        main(["load-data", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert all(name in out for name in BUNDLED_DATASETS)
    assert "csv:<path to your file>" in out and "python:<module>:<function>" in out


def test_help_lists_every_command():
    text = build_parser().format_help()
    assert all(command in text for command in ("load-data", "train", "bootstrap", "serve"))


def test_rollback_points_serve_at_an_older_model(settings, capsys):
    for _ in range(2):
        assert main(["bootstrap"]) == 0
    assert main(["rollback", "1"]) == 0
    assert "rolled back: latest.json points to v1" in capsys.readouterr().err


def test_rollback_to_a_missing_version_is_one_sentence_exit_2(settings, capsys):
    assert main(["bootstrap"]) == 0
    capsys.readouterr()
    assert main(["rollback", "9"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("mlsteps rollback: error: cannot roll back to v9: there is no model v9") and err.count("\n") == 1
    )


def test_a_volume_that_breaks_at_run_time_is_one_line_and_exit_1(settings, capsys):
    assert main(["load-data"]) == 0
    (settings.models_dir / "latest.json").mkdir(parents=True)  # a folder where the pointer belongs
    assert main(["train"]) == 1
    err = capsys.readouterr().err
    assert "train failed: Is a directory" in err and "Traceback" not in err


def test_bootstrap_if_missing_does_nothing_when_a_servable_model_is_live(settings, capsys):
    assert main(["bootstrap", "--if-missing"]) == 0
    assert list_versions(settings.models_dir) == [1]
    assert main(["bootstrap", "--if-missing"]) == 0
    assert list_versions(settings.models_dir) == [1] and "model v1 is promoted and loads" in capsys.readouterr().err


def test_bootstrap_if_missing_retrains_when_the_live_model_cannot_be_served(settings, capsys):
    import json

    assert main(["bootstrap"]) == 0
    metadata = settings.models_dir / "v000001" / "metadata.json"
    metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "sklearn_version": "0.24.2"}))
    assert main(["bootstrap", "--if-missing"]) == 0
    assert list_versions(settings.models_dir) == [1, 2]
    assert "trained with scikit-learn 0.24.2" in capsys.readouterr().err


def browser_connection(port: int) -> http.client.HTTPConnection:
    """A keep-alive connection that has had an answer and stays open, as a browser's tab on /docs does."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/readyz")
    response = connection.getresponse()
    response.read()
    assert response.status == 200 and not response.will_close
    return connection


@pytest.mark.parametrize("presses", [1, 2], ids=["ctrl-c", "ctrl-c twice"])
def test_ctrl_c_stops_serve_quietly_and_frees_its_port_at_once(trained, presses):
    """A real `mlsteps serve`, Ctrl-C'd with a browser's connection open: exit 0, no traceback (a second
    Ctrl-C makes uvicorn skip the app's shutdown), and the port counts as free at once (the connection
    serve closed waits in TIME_WAIT for a minute, which uvicorn's own bind ignores)."""
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "mlsteps", "serve", "--port", str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        browser = wait_for("serve to answer", lambda: browser_connection(port), 60)
        for _ in range(presses):
            serve.send_signal(signal.SIGINT)
            time.sleep(0.05)
        assert serve.wait(timeout=15) == 0
    finally:
        serve.kill()
    browser.close()
    log = serve.stderr.read()
    assert "Shutting down" in log and "Traceback" not in log and "KeyboardInterrupt" not in log, log
    assert check_port(trained.model_copy(update={"port": port})).ok
