"""Data sources: bundled datasets with simulated arrivals, and a learner's CSV with clear errors."""

import numpy as np
import pytest

from mlsteps.config import BUNDLED_DATASETS
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.datasets import DataError, bundled, simulate_new_samples


@pytest.mark.parametrize("name", list(BUNDLED_DATASETS))
def test_every_bundled_dataset_loads_offline(name):
    table = bundled(name)
    assert table.task == BUNDLED_DATASETS[name]
    assert table.X.shape[1] == len(table.feature_names) and len(table.X) >= 150
    assert table.y is None if table.task == "clustering" else len(table.y) == len(table.X)
    assert all(" " not in feature for feature in table.feature_names)


def test_simulation_is_reproducible_and_changes_each_snapshot():
    base = bundled("iris")
    first, again, second = (simulate_new_samples(base, n, seed=7, rows=50) for n in (1, 1, 2))
    assert np.array_equal(first.X, again.X) and list(first.y) == list(again.y)
    assert not np.array_equal(first.X, second.X)
    assert first.X.shape == (50, 4) and set(first.y) <= set(base.y)


def test_simulated_drift_stays_bounded():
    base = bundled("wine")
    far = simulate_new_samples(base, 12, seed=1, rows=500)  # near the peak of the drift cycle
    shift = np.abs(far.X.mean(axis=0) - base.X.mean(axis=0)) / base.X.std(axis=0)
    assert shift.max() < 0.6


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def rows(n, make):
    return "".join(make(i) for i in range(n))


def test_csv_classification_and_regression(tmp_path):
    labels = write(tmp_path, "a,b,target\n" + rows(12, lambda i: f"{i},{i * 2},{'yes' if i % 2 else 'no'}\n"))
    table = read_csv_table(labels, "target")
    assert table.task == "classification" and table.feature_names == ["a", "b"] and set(table.y) == {"yes", "no"}
    prices = write(tmp_path, "size,price\n" + rows(12, lambda i: f"{i},{i * 1.5 + 0.25}\n"), "p.csv")
    table = read_csv_table(prices, "price")
    assert table.task == "regression" and table.y.dtype == float


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("", "target", "the file is empty"),
        ("a,b\n" + "1,2\n" * 12, "target", "line 1 has no column 'target'"),
        ("a,target\n" + "1,x\n" * 3, "target", "has 3 data rows"),
        ("a,target\n" + "1,x\n" * 11 + "oops,x\n", "target", "line 13, column 'a': 'oops' is not a number"),
        ("a,target\n" + "1,x\n" * 11 + "1\n", "target", "line 13 has 1 fields, the header has 2"),
        ("a,target\n" + "1,x\n" * 11 + "1,\n", "target", "line 13, column 'target': the target is empty"),
        ("a,target\n" + "1,x\n" * 11 + "inf,x\n", "target", "'inf' is not a number"),
    ],
)
def test_bad_csv_names_file_line_and_column(tmp_path, text, target, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as error:
        read_csv_table(path, target)
    assert str(path) in str(error.value) and message in str(error.value)


def test_missing_csv_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv_table(tmp_path / "absent.csv", "target")


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,target\n" + "1,x\n" * 12, "column 'target' holds one class only ('x'); a classifier needs at least two"),
        ("a,target\n" + "1,x\n1,y\n" * 6 + "1e308,x\n", "'1e308' is too large to train on"),
    ],
)
def test_csv_that_would_break_training_is_refused_before_it(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv_table(write(tmp_path, text), "target")
