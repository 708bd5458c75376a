"""load-data's sources: the learner's own loader (MLSTEPS_DATASET=python:module:function), checked like a CSV."""

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
def a_frame():
    import pandas as pd
    rows = {"island": ["Biscoe", None, "Dream"], "mass": [3000, None, 4000.5], "target": [1, 2, 3]}
    return pd.DataFrame({name: values * 5 for name, values in rows.items()})
def declared(): return {"X": [[float(i)] for i in range(12)], "y": [i % 3 for i in range(12)], "feature_names": ["a"],
                        "task": "regression"}
def dates():
    import pandas as pd
    return pd.DataFrame({"when": pd.date_range("2020-01-01", periods=12), "target": [0, 1] * 6})
"""


@pytest.fixture
def loaders(learner_code, settings):
    module = learner_code("learner_loaders", LOADERS)
    return lambda name: settings.model_copy(update={"dataset": f"python:{module}:{name}"})


def test_the_example_loader_becomes_a_snapshot(settings):
    settings = settings.model_copy(update={"dataset": "python:my_ml.example:load_table"})
    assert main(["load-data", "--dataset", "python:my_ml.example:load_table"]) == 0
    table, meta = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    assert meta["source"] == "python:my_ml.example:load_table" and table.task == "auto"
    assert table.feature_names[-2:] == ["alcohol_x_flavanoids", "log_proline"] and table.X.shape == (178, 15)


def test_no_target_means_clustering(loaders):
    table = fetch(loaders("points"), 1)
    assert table.task == "clustering" and table.y is None


def test_a_loader_may_return_a_dataframe_with_text_and_missing_values(loaders):
    table = fetch(loaders("a_frame"), 1)
    assert table.feature_names == ["island", "mass"] and [f["type"] for f in table.features()] == ["text", "number"]
    assert (
        table.X["island"].isna().sum() == 5 and table.X["mass"].isna().sum() == 5 and table.y.tolist()[:3] == [1, 2, 3]
    )


def test_a_loader_may_declare_the_task_and_mlsteps_task_must_not_contradict_it(loaders):
    assert fetch(loaders("declared"), 1).task == "regression"
    with pytest.raises(DataError, match="returned the task 'regression', and MLSTEPS_TASK='classification'"):
        fetch(loaders("declared").model_copy(update={"task": "classification"}), 1)


@pytest.mark.parametrize(
    "name, words",
    [
        ("one_class", "the target holds one value only ('a')"),
        ("with_nan", "column 'q' has no value in any row"),
        ("dates", "column 'when' holds datetime64[us] values, which cannot be used"),
        ("few_rows", "has 3 rows; at least 10 are needed"),
        ("wrong_width", "X must be a 2-D table with one column per feature name (2 names, X has shape (12, 3))"),
        ("a_list", "returned list; return a DataFrame, or a dict with X, y and feature_names"),
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
    assert "the target holds one value only" in capsys.readouterr().err


def test_loaded_numbers_are_floats_and_missing_ones_nan(loaders):
    assert (fetch(loaders("prices"), 1).X.dtypes == np.float64).all()
    assert fetch(loaders("a_frame"), 1).X["mass"].isna().sum() == 5
