"""Where the data comes from: a scikit-learn bundled dataset with simulated new arrivals, or your CSV."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mlsteps.config import BUNDLED_DATASETS, Settings
from mlsteps.errors import UserError

MIN_ROWS = 10
MAX_ABS_VALUE = 1e150  # larger values overflow to infinity when squared (variance, scaling)
MAX_CLASSES_FOR_NUMBERS = 20
DRIFT_PERIOD = 50  # snapshots per full cycle of the simulated drift


class DataError(UserError):
    """The data cannot be used; the message names the file, line or column to fix."""


@dataclass(frozen=True)
class Table:
    """Features, target and what they mean: the unit that moves from load-data to train."""

    feature_names: list[str]
    X: np.ndarray
    y: np.ndarray
    task: str  # "classification" or "regression"
    target_name: str
    source: str


@lru_cache
def bundled(name: str) -> Table:
    """One of scikit-learn's bundled datasets (shipped inside the wheel: no download)."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    task = BUNDLED_DATASETS[name]
    names = [str(n).replace(" ", "_").replace("(", "").replace(")", "") for n in bunch.feature_names]
    if task == "classification":
        labels = np.asarray([str(bunch.target_names[i]) for i in bunch.target], dtype=object)
    else:
        labels = bunch.target.astype(float)
    return Table(names, bunch.data.astype(float), labels, task, "target", f"sklearn:{name}")


def simulate_new_samples(base: Table, sequence: int, seed: int, rows: int) -> Table:
    """Resample `base` with noise and a slow, bounded drift; the same inputs always give the same table."""
    rng = np.random.default_rng([seed, sequence])
    picks = rng.integers(0, len(base.X), size=rows)
    spread = base.X.std(axis=0)
    direction = np.random.default_rng(seed).choice([-1.0, 1.0], size=base.X.shape[1])
    drift = 0.3 * math.sin(2 * math.pi * sequence / DRIFT_PERIOD) * spread * direction
    X = base.X[picks] + rng.normal(0.0, 0.05, size=(rows, base.X.shape[1])) * spread + drift
    y = base.y[picks]
    if base.task == "regression":
        y = y + rng.normal(0.0, 0.05 * base.y.std(), size=rows)
    return Table(base.feature_names, np.round(X, 4), y, base.task, base.target_name, base.source)


def _guess_task(values: list[str]) -> str:
    """Text or a few whole numbers mean classes; anything else numeric is a regression target."""
    try:
        numbers = [float(v) for v in values]
    except ValueError:
        return "classification"
    whole = all(n.is_integer() for n in numbers)
    return "classification" if whole and len(set(numbers)) <= MAX_CLASSES_FOR_NUMBERS else "regression"


def _read_rows(path: Path) -> list[list[str]]:
    """The file's non-blank rows, or a DataError that says why it cannot be read."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (set MLSTEPS_DATASET=csv:<path to an existing file>).")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot be read as a UTF-8 CSV file ({error}).") from None
    return [row for row in rows if any(cell.strip() for cell in row)]


def _check_shape(path: Path, rows: list[list[str]], target_column: str) -> list[str]:
    """The header, once the file has one with the target column, a feature, and enough data rows."""
    if not rows:
        raise DataError(f"{path}: the file is empty; it needs a header row and at least {MIN_ROWS} data rows.")
    header = [cell.strip() for cell in rows[0]]
    if target_column not in header:
        raise DataError(f"{path}: line 1 has no column {target_column!r} (columns: {', '.join(header)}); "
                        "set MLSTEPS_TARGET_COLUMN to the column to predict.")
    if len(header) < 2:
        raise DataError(f"{path}: needs at least one feature column besides {target_column!r}.")
    if len(rows) - 1 < MIN_ROWS:
        raise DataError(f"{path}: has {len(rows) - 1} data rows; at least {MIN_ROWS} are needed to train and evaluate.")
    return header


def _parse_row(path: Path, line_number: int, row: list[str], header: list[str], target_index: int):
    """(feature values, target) of one data row, or a DataError naming its line and column."""
    if len(row) != len(header):
        raise DataError(f"{path}: line {line_number} has {len(row)} fields, the header has {len(header)}.")
    values = []
    for i, cell in enumerate(row):
        if i == target_index:
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(f"{path}: line {line_number}, column {header[i]!r}: {cell!r} is not a number.")
        if abs(value) > MAX_ABS_VALUE:
            raise DataError(f"{path}: line {line_number}, column {header[i]!r}: {cell!r} is too large to train on "
                            f"(more than {MAX_ABS_VALUE:g} in size); rescale the column.")
        values.append(value)
    target = row[target_index].strip()
    if not target:
        raise DataError(f"{path}: line {line_number}, column {header[target_index]!r}: the target is empty.")
    return values, target


def read_csv_table(path: Path, target_column: str) -> Table:
    """Read a learner's CSV: a header row, numeric feature columns and one target column."""
    rows = _read_rows(path)
    header = _check_shape(path, rows, target_column)
    target_index = header.index(target_column)
    feature_names = [name for i, name in enumerate(header) if i != target_index]
    parsed = [_parse_row(path, number, row, header, target_index) for number, row in enumerate(rows[1:], start=2)]
    features = [values for values, _ in parsed]
    targets = [target for _, target in parsed]
    task = _guess_task(targets)
    if task == "classification" and len(set(targets)) < 2:
        raise DataError(f"{path}: column {target_column!r} holds one class only ({targets[0]!r}); "
                        "a classifier needs at least two.")
    y = np.asarray(targets, dtype=object) if task == "classification" else np.asarray(targets, dtype=float)
    return Table(feature_names, np.asarray(features, dtype=float), y, task, target_column, f"csv:{path}")


def fetch(settings: Settings, sequence: int) -> Table:
    """The table for snapshot number `sequence` of the configured source."""
    if settings.csv_path is not None:
        return read_csv_table(settings.csv_path, settings.target_column)
    return simulate_new_samples(bundled(settings.dataset), sequence, settings.seed, settings.samples_per_snapshot)
