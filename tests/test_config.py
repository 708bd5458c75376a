"""Settings: defaults, parsing, and one clear sentence for every bad value."""

import re
from pathlib import Path

import pytest

from mlsteps.cli import main
from mlsteps.config import (
    BUILTIN_PIPELINES,
    BUNDLED_DATASETS,
    ENV_DEFAULTS,
    ConfigError,
    ensure_writable_dir,
    load_settings,
)
from mlsteps.errors import explain


@pytest.fixture
def environ(monkeypatch, settings):
    """Set MLSTEPS_* variables for one test, on top of the `settings` fixture's clean environment."""

    def set_variables(**variables):
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    return set_variables


def test_defaults_need_no_environment(settings):
    assert settings.dataset == "iris" and settings.port == 8000 and settings.load_data_every == 0


def test_every_field_has_one_variable_name():
    assert "MLSTEPS_DATA_DIR" in ENV_DEFAULTS and "MLSTEPS_TRAIN_CRON" in ENV_DEFAULTS
    assert all(name.startswith("MLSTEPS_") and name.isupper() for name in ENV_DEFAULTS)


def test_values_are_parsed_by_type(environ, tmp_path):
    environ(
        MLSTEPS_PORT="9000",
        MLSTEPS_TRAIN_EVERY="2.5",
        MLSTEPS_ACCESS_LOG="false",
        MLSTEPS_DATA_DIR=str(tmp_path),
        MLSTEPS_LOG_LEVEL="debug",
    )
    settings = load_settings()
    assert (settings.port, settings.train_every, settings.access_log) == (9000, 2.5, False)
    assert settings.data_dir == tmp_path and settings.log_level == "DEBUG"


def test_an_empty_variable_means_the_default(environ):
    environ(MLSTEPS_DATASET="", MLSTEPS_PORT="")
    assert (load_settings().dataset, load_settings().port) == ("iris", 8000)


def test_an_override_wins_over_the_variable(environ):
    environ(MLSTEPS_PORT="9000")
    assert load_settings(port="9001").port == 9001


def test_csv_dataset_gives_a_path(environ):
    environ(MLSTEPS_DATASET="csv:data/x.csv")
    assert str(load_settings().csv_path) == "data/x.csv"


@pytest.mark.parametrize(
    "variable, value, words",
    [
        ("MLSTEPS_DATASET", "mnist", "'mnist' is not a known dataset; use one of iris, wine"),
        ("MLSTEPS_DATASET", "csv:", "needs a file path"),
        ("MLSTEPS_TRAIN_EVERY", "-5", "='-5' must be 0 or more"),
        ("MLSTEPS_LOAD_DATA_EVERY", "often", "is not a number"),
        ("MLSTEPS_PORT", "80000", "must be 65535 or less"),
        ("MLSTEPS_PORT", "0", "must be 1 or more"),
        ("MLSTEPS_PORT", "http", "is not a whole number"),
        ("MLSTEPS_KEEP_MODELS", "0", "must be 1 or more"),
        ("MLSTEPS_TRAIN_CRON", "every minute", "is not a valid cron schedule"),
        ("MLSTEPS_ACCESS_LOG", "maybe", "true or false"),
        ("MLSTEPS_LOG_LEVEL", "loud", "='loud' must be one of DEBUG"),
        # Values that parse but would break the system: no promotion ever, a spin, a huge allocation.
        ("MLSTEPS_PROMOTION_TOLERANCE", "nan", "must be a finite number"),
        ("MLSTEPS_TRAIN_EVERY", "inf", "must be a finite number"),
        ("MLSTEPS_RELOAD_SECONDS", "0", "must be 0.1 or more"),
        ("MLSTEPS_TRAIN_EVERY", "0.001", "must be 0 (run once) or at least 0.1 seconds"),
        ("MLSTEPS_SEED", "-1", "must be 0 or more"),
        ("MLSTEPS_SAMPLES_PER_SNAPSHOT", "100000000000", "must be 1000000 or less"),
    ],
)
def test_bad_value_names_the_variable(environ, variable, value, words):
    environ(**{variable: value})
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(f"{variable}=") and words in str(error.value)


def test_bad_override_names_the_flag_it_came_from(settings):
    with pytest.raises(ConfigError) as error:
        load_settings(train_every="-5")
    assert explain(error.value, {"train_every": "--every"}) == "--every -5 must be 0 or more."
    assert str(error.value) == "MLSTEPS_TRAIN_EVERY='-5' must be 0 or more."  # no flag given: the variable


def test_unwritable_data_dir_is_a_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="MLSTEPS_DATA_DIR=.*is not a writable directory"):
        ensure_writable_dir(blocker / "data")


@pytest.mark.parametrize("command", ["load-data", "train", "serve"])
def test_cli_stops_with_exit_2_and_no_traceback(environ, capsys, command):
    environ(MLSTEPS_DATASET="nope")
    assert main([command]) == 2
    assert "MLSTEPS_DATASET='nope' is not a known dataset" in capsys.readouterr().err


def test_a_short_signing_key_is_refused_without_repeating_it(environ):
    environ(MLSTEPS_SIGNING_KEY="hunter2")
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith("MLSTEPS_SIGNING_KEY must be at least 16 characters long")
    assert "hunter2" not in str(error.value)


def test_the_signing_key_never_shows_in_the_settings(environ):
    environ(MLSTEPS_SIGNING_KEY="k" * 32)
    settings = load_settings()
    assert settings.signing_secret == "k" * 32 and "k" * 32 not in repr(settings)


DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize(
    "page, row, names",
    [
        ("concepts.md", "| `MLSTEPS_DATASET`", BUNDLED_DATASETS),
        ("concepts.md", "| `MLSTEPS_PIPELINE`", BUILTIN_PIPELINES),
        ("your-own-model.md", "| the model |", BUILTIN_PIPELINES),
        ("level-1-single-function.md", "| `--dataset`", BUNDLED_DATASETS),
    ],
)
def test_the_docs_list_exactly_the_built_in_names(page, row, names):
    """The tables that say what a setting takes name every bundled dataset and built-in pipeline, and no other."""
    line = next(line for line in (DOCS / page).read_text().splitlines() if line.startswith(row))
    allowed = line.split("|")[3]  # | setting | default or variable | what it takes | ...
    assert set(re.findall(r"`([a-z_]+)`", allowed)) == set(names)


def test_the_settings_accept_each_built_in_name_and_refuse_others(settings):
    for dataset in BUNDLED_DATASETS:
        assert load_settings(dataset=dataset).dataset == dataset
    for pipeline in BUILTIN_PIPELINES:
        assert load_settings(pipeline=pipeline).pipeline == pipeline
    with pytest.raises(ConfigError, match="is not a pipeline; use one of linear, forest, boosting, knn, kmeans, or"):
        load_settings(pipeline="svm")
