"""Data sources: bundled datasets with simulated arrivals, and a learner's CSV with clear errors."""

import numpy as np
import pytest

from mlsteps.config import BUNDLED_DATASETS
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.datasets import DataError, bundled, simulate_new_samples
from mlsteps.table import guess_task


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
    assert first.X.equals(again.X) and list(first.y) == list(again.y)
    assert not first.X.equals(second.X)
    assert first.X.shape == (50, 4) and set(first.y) <= set(base.y)


def test_simulated_drift_stays_bounded():
    base = bundled("wine")
    far = simulate_new_samples(base, 12, seed=1, rows=500)  # near the peak of the drift cycle
    shift = np.abs(far.X.to_numpy().mean(axis=0) - base.X.to_numpy().mean(axis=0)) / base.X.to_numpy().std(axis=0)
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
    assert table.task == "auto" and table.feature_names == ["a", "b"] and set(table.y) == {"yes", "no"}
    assert guess_task(table.y)[0] == "classification"
    prices = write(tmp_path, "size,price\n" + rows(12, lambda i: f"{i},{i * 1.5 + 0.25}\n"), "p.csv")
    table = read_csv_table(prices, "price")
    assert guess_task(table.y)[0] == "regression" and table.y.dtype == float


def test_a_mixed_table_is_typed_per_column_with_its_missing_values(tmp_path, caplog):
    """Numbers, text (categories), the four ways of writing a missing value; rows without a target left out."""
    caplog.set_level("INFO")
    text = "island, mass ,sex,rings\n" + rows(
        14,
        lambda i: (
            f"{['Biscoe', 'Dream'][i % 2]},{['', 'NA', 'NaN', 'null'][i % 4] if i < 4 else 3000 + i}, "
            f"{'female' if i % 3 else 'null'},{'' if i == 13 else i % 7}\n"
        ),
    )
    table = read_csv_table(write(tmp_path, text), "rings")
    assert table.feature_names == ["island", "mass", "sex"] and len(table.y) == 13
    assert [f["type"] for f in table.features()] == ["text", "number", "text"]
    assert table.features()[2]["categories"] == ["female"] and table.X["sex"].isna().sum() == 5
    assert table.X["mass"].isna().sum() == 4 and table.X["mass"].iloc[4] == 3004.0
    assert "left out 1 of 14 rows: their target 'rings' is missing" in caplog.text


def test_a_mostly_numeric_column_with_a_word_is_text_and_the_log_names_the_word(tmp_path, caplog):
    table = read_csv_table(write(tmp_path, "a,target\n" + "1,x\n2,y\n" * 6 + "oops,x\n"), "target")
    assert table.features()[0]["type"] == "text"
    assert "column 'a' is read as text (categories): 'oops' on line 14 is not a number" in caplog.text


def test_clustering_needs_no_target_column(tmp_path):
    table = read_csv_table(write(tmp_path, "a,b\n" + rows(12, lambda i: f"{i},{i % 3}\n")), "target", "clustering")
    assert table.task == "clustering" and table.y is None and table.feature_names == ["a", "b"]


@pytest.mark.parametrize(
    "text, target, message",
    [
        ("", "target", "the file is empty"),
        ("a,b\n" + "1,2\n" * 12, "target", "line 1 has no column 'target'"),
        ("a,target\n" + "1,x\n" * 3, "target", "has 3 rows"),
        ("a,target\n" + "1,x\n" * 11 + "1\n", "target", "line 13 has 1 fields, the header has 2"),
        ("a,target\n" + "1,x\n" * 11 + "1,x,2\n", "target", "line 13 has 3 fields, the header has 2"),
        ("a,target\n" + "1,x\n" * 11 + "inf,x\n", "target", "line 13, column 'a': 'inf' is not a finite number"),
        ("a,b,target\n" + "1,,x\n" * 12, "target", "column 'b' has no value in any row"),
        ("a,a,target\n" + "1,2,x\n" * 12, "target", "names the column 'a' twice"),
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
        ("a,target\n" + "1,x\n" * 12, "the target holds one value only ('x')"),
        ("a,target\n" + "1,x\n1,y\n" * 6 + "1e308,x\n", "'1e308' is too large to train on"),
    ],
)
def test_csv_that_would_break_training_is_refused_before_it(tmp_path, text, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_csv_table(write(tmp_path, text), "target")
