"""load-data's sources: the learner's own loader (MLSTEPS_DATASET=python:module:function), checked like a CSV."""

import sys

import numpy as np
import pytest

from mlsteps.cli import main
from mlsteps.config import ConfigError
from mlsteps.load_data.datasets import DataError
from mlsteps.load_data.sources import fetch
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

LOADERS = """
def one_class(): return {"X": [[1.0, 2.0]] * 12, "y": ["a"] * 12, "feature_names": ["p", "q"]}
def with_nan(): return {"X": [[1.0, float("nan")]] * 12, "y": ["a", "b"] * 6, "feature_names": ["p", "q"]}
def few_rows(): return {"X": [[1.0, 2.0]] * 3, "y": ["a", "b", "a"], "feature_names": ["p", "q"]}
def wrong_width(): return {"X": [[1.0, 2.0, 3.0]] * 12, "y": ["a", "b"] * 6, "feature_names": ["p", "q"]}
def a_list(): return [1, 2]
def no_names(): return {"X": [[1.0, 2.0]] * 12, "y": ["a", "b"] * 6}
def points(): return {"X": [[float(i % 3), float(i % 5)] for i in range(60)], "feature_names": ["p", "q"]}
def prices(): return {"X": [[float(i)] for i in range(30)], "y": [i * 1.5 for i in range(30)], "feature_names": ["m2"]}
"""


@pytest.fixture
def loaders(tmp_path, monkeypatch, settings):
    (tmp_path / "learner_loaders.py").write_text(LOADERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield lambda name: settings.model_copy(update={"dataset": f"python:learner_loaders:{name}"})
    sys.modules.pop("learner_loaders", None)


def test_the_example_loader_becomes_a_snapshot(settings):
    settings = settings.model_copy(update={"dataset": "python:my_ml.example:load_table"})
    assert main(["load-data", "--dataset", "python:my_ml.example:load_table"]) == 0
    table, meta = read_snapshot(list_snapshots(settings.snapshots_dir)[-1])
    assert meta["source"] == "python:my_ml.example:load_table" and table.task == "classification"
    assert table.feature_names[-2:] == ["alcohol_x_flavanoids", "log_proline"] and table.X.shape == (178, 15)


@pytest.mark.parametrize("name, task", [("points", "clustering"), ("prices", "regression")])
def test_no_target_means_clustering_and_many_numbers_regression(loaders, name, task):
    table = fetch(loaders(name), 1)
    assert table.task == task and (table.y is None) == (task == "clustering")


@pytest.mark.parametrize(
    "name, words",
    [
        ("one_class", "the target holds one class only ('a'); a classifier needs at least two"),
        ("with_nan", "X holds NaN, infinity or values beyond 1e+150"),
        ("few_rows", "has 3 rows; at least 10 are needed"),
        ("wrong_width", "X must be a 2-D table with one column per feature name (2 names, X has shape (12, 3))"),
        ("a_list", "returned list; return a dict with X, y and feature_names"),
        ("no_names", "returned no X or no feature_names"),
    ],
)
def test_a_loader_that_returns_unusable_data_is_one_sentence(loaders, name, words):
    with pytest.raises(DataError, match=f"^MLSTEPS_DATASET='python:learner_loaders:{name}'") as error:
        fetch(loaders(name), 1)
    assert words in str(error.value)


def test_a_missing_loader_names_the_variable(loaders):
    with pytest.raises(ConfigError, match="'python:learner_loaders:absent': learner_loaders has no function"):
        fetch(loaders("absent"), 1)


def test_the_cli_exits_2_for_a_bad_loader(loaders, capsys):
    assert main(["load-data", "--dataset", "python:learner_loaders:one_class"]) == 2
    assert "a classifier needs at least two" in capsys.readouterr().err


def test_loaded_numbers_are_floats(loaders):
    assert fetch(loaders("prices"), 1).X.dtype == np.float64
