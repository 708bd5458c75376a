"""Settings: defaults, parsing, and one clear sentence for every bad value."""

import subprocess
import sys

import pytest

from mlsteps.config import ENV_DEFAULTS, ConfigError, ensure_writable_dir, load_settings


def test_defaults_need_no_environment():
    settings = load_settings({})
    assert settings.dataset == "iris" and settings.port == 8000 and settings.load_data_every == 0


def test_every_field_has_one_variable_name():
    assert "MLSTEPS_DATA_DIR" in ENV_DEFAULTS and "MLSTEPS_TRAIN_CRON" in ENV_DEFAULTS
    assert all(name.startswith("MLSTEPS_") and name.isupper() for name in ENV_DEFAULTS)


def test_values_are_parsed_by_type(tmp_path):
    settings = load_settings({"MLSTEPS_PORT": "9000", "MLSTEPS_TRAIN_EVERY": "2.5", "MLSTEPS_ACCESS_LOG": "false",
                              "MLSTEPS_DATA_DIR": str(tmp_path), "MLSTEPS_LOG_LEVEL": "debug"})
    assert (settings.port, settings.train_every, settings.access_log) == (9000, 2.5, False)
    assert settings.data_dir == tmp_path and settings.log_level == "DEBUG"


def test_csv_dataset_gives_a_path():
    assert str(load_settings({"MLSTEPS_DATASET": "csv:data/x.csv"}).csv_path) == "data/x.csv"


@pytest.mark.parametrize("variable, value, words", [
    ("MLSTEPS_DATASET", "mnist", "use one of iris, wine"),
    ("MLSTEPS_DATASET", "csv:", "needs a file path"),
    ("MLSTEPS_TRAIN_EVERY", "-5", "must be 0 or more"),
    ("MLSTEPS_LOAD_DATA_EVERY", "often", "is not a number"),
    ("MLSTEPS_PORT", "80000", "port number from 1 to 65535"),
    ("MLSTEPS_PORT", "http", "is not a whole number"),
    ("MLSTEPS_KEEP_MODELS", "0", "must be 1 or more"),
    ("MLSTEPS_TRAIN_CRON", "every minute", "is not a valid cron schedule"),
    ("MLSTEPS_ACCESS_LOG", "maybe", "true or false"),
    ("MLSTEPS_LOG_LEVEL", "loud", "must be one of DEBUG"),
])
def test_bad_value_names_the_variable(variable, value, words):
    with pytest.raises(ConfigError) as error:
        load_settings({variable: value})
    assert variable in str(error.value) and words in str(error.value)


def test_unwritable_data_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="MLSTEPS_DATA_DIR=.*is not a writable directory"):
        ensure_writable_dir(blocker / "data")


@pytest.mark.parametrize("command", ["load-data", "train", "serve"])
def test_cli_stops_with_exit_2_and_no_traceback(command, settings):
    result = subprocess.run([sys.executable, "-m", "mlsteps", command], capture_output=True, text=True,
                            env={"MLSTEPS_DATASET": "nope", "PATH": ""}, timeout=60)
    assert result.returncode == 2
    assert "MLSTEPS_DATASET='nope' is not a known dataset" in result.stderr
    assert "Traceback" not in result.stderr
