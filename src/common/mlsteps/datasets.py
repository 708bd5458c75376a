"""Where the data comes from: a scikit-learn bundled dataset with simulated new arrivals, or your CSV."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
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
        labels = np.asarray([str(bunch.target_names[i]) for i in bunch.target], dtype=str)
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


def _guess_task(values: np.ndarray) -> str:
    """Text or a few whole numbers mean classes; anything else numeric is a regression target."""
    try:
        numbers = values.astype(float)
    except ValueError:
        return "classification"
    whole = bool(np.all(numbers == np.round(numbers)))
    return "classification" if whole and len(np.unique(numbers)) <= MAX_CLASSES_FOR_NUMBERS else "regression"


def _rows(handle) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row: one row at a time, never the whole file."""
    reader = csv.reader(handle)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _read_header(path: Path, target_column: str) -> tuple[int, list[str]]:
    """(line number, names) of the header row, once it has the target column and a feature."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (set MLSTEPS_DATASET=csv:<path to an existing file>).")
    with _open(path) as handle:
        line, header = next(_rows(handle), (0, []))
    if not header:
        raise DataError(f"{path}: the file is empty; it needs a header row and at least {MIN_ROWS} data rows.")
    header = [cell.strip() for cell in header]
    if target_column not in header:
        raise DataError(f"{path}: line {line} has no column {target_column!r} (columns: {', '.join(header)}); "
                        "set MLSTEPS_TARGET_COLUMN to the column to predict.")
    if len(header) < 2:
        raise DataError(f"{path}: needs at least one feature column besides {target_column!r}.")
    return line, header


@contextmanager
def _open(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            yield handle
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot be read as a UTF-8 CSV file ({error}).") from None


def _check_cell(path: Path, line: int, column: str, cell: str) -> None:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{path}: line {line}, column {column!r}: {cell!r} is not a number.")
    if abs(value) > MAX_ABS_VALUE:
        raise DataError(f"{path}: line {line}, column {column!r}: {cell!r} is too large to train on "
                        f"(more than {MAX_ABS_VALUE:g} in size); rescale the column.")


def _diagnose(path: Path, header_line: int, header: list[str], target_index: int) -> DataError:
    """Walk the rows one by one to name the first line and column that numpy's fast parser refused."""
    with _open(path) as handle:
        for line, row in _rows(handle):
            if line <= header_line:
                continue
            if len(row) != len(header):
                return DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}.")
            for i, cell in enumerate(row):
                if i != target_index:
                    _check_cell(path, line, header[i], cell)
            if not row[target_index].strip():
                return DataError(f"{path}: line {line}, column {header[target_index]!r}: the target is empty.")
    return DataError(f"{path}: cannot be read as a table of numbers (check quoting and the delimiter: ',').")


def _load_columns(path: Path, header_line: int, columns: list[int], dtype) -> np.ndarray | None:
    """numpy's C parser: a few bytes per value, where Python lists of floats take ten times more."""
    try:
        with _open(path) as handle:
            return np.loadtxt(handle, delimiter=",", skiprows=header_line, usecols=columns, dtype=dtype,
                              comments=None, quotechar='"', ndmin=2 if dtype is float else 1)
    except ValueError:  # a cell that is not a number, a row of another length: _diagnose says which
        return None


def read_csv_table(path: Path, target_column: str) -> Table:
    """Read a learner's CSV: a header row, numeric feature columns and one target column."""
    header_line, header = _read_header(path, target_column)
    target_index = header.index(target_column)
    feature_columns = [i for i in range(len(header)) if i != target_index]
    X = _load_columns(path, header_line, feature_columns, float)
    y = _load_columns(path, header_line, [target_index], str)
    if X is None or y is None or not np.all(np.abs(X) <= MAX_ABS_VALUE) or np.any(np.char.strip(y) == ""):
        raise _diagnose(path, header_line, header, target_index)
    if len(y) < MIN_ROWS:
        raise DataError(f"{path}: has {len(y)} data rows; at least {MIN_ROWS} are needed to train and evaluate.")
    y = np.char.strip(y)
    task = _guess_task(y)
    if task == "classification" and len(np.unique(y)) < 2:
        raise DataError(f"{path}: column {target_column!r} holds one class only ({str(y[0])!r}); "
                        "a classifier needs at least two.")
    feature_names = [header[i] for i in feature_columns]
    return Table(feature_names, X, y if task == "classification" else y.astype(float), task, target_column,
                 f"csv:{path}")


def fetch(settings: Settings, sequence: int) -> Table:
    """The table for snapshot number `sequence` of the configured source."""
    if settings.csv_path is not None:
        return read_csv_table(settings.csv_path, settings.target_column)
    return simulate_new_samples(bundled(settings.dataset), sequence, settings.seed, settings.samples_per_snapshot)
