"""Your CSV file as a Table: a header row, numeric feature columns and one target column.

numpy's C parser reads the numbers (a few bytes a value, fast); when it refuses the file, a slow
row-by-row pass finds the first bad line and column to name in the error.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlsteps.load_data.datasets import MAX_ABS_VALUE, MIN_ROWS, DataError, guess_task
from mlsteps.table import Table


def _rows(handle) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row: one row at a time, never the whole file."""
    reader = csv.reader(handle)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _read_header(path: Path, target_column: str) -> tuple[int, list[str]]:
    """(line number, names) of the header row, once it has the target column and a feature."""
    if not path.is_file():
        raise DataError(": no such file; give csv:<path to an existing file>.", field="dataset", value=f"csv:{path}")
    with _open(path) as handle:
        line, header = next(_rows(handle), (0, []))
    if not header:
        raise DataError(f"{path}: the file is empty; it needs a header row and at least {MIN_ROWS} data rows.")
    header = [cell.strip() for cell in header]
    if target_column not in header:
        raise DataError(
            f": {path}, line {line} has no column {target_column!r} (columns: {', '.join(header)}); "
            "set it to the column to predict.",
            field="target_column",
        )
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
        raise DataError(
            f"{path}: line {line}, column {column!r}: {cell!r} is too large to train on "
            f"(more than {MAX_ABS_VALUE:g} in size); rescale the column."
        )


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
            return np.loadtxt(
                handle,
                delimiter=",",
                skiprows=header_line,
                usecols=columns,
                dtype=dtype,
                comments=None,
                quotechar='"',
                ndmin=2 if dtype is float else 1,
            )
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
    task = guess_task(y)
    if task == "classification" and len(np.unique(y)) < 2:
        raise DataError(
            f"{path}: column {target_column!r} holds one class only ({str(y[0])!r}); a classifier needs at least two."
        )
    feature_names = [header[i] for i in feature_columns]
    return Table(
        feature_names, X, y if task == "classification" else y.astype(float), task, target_column, f"csv:{path}"
    )
