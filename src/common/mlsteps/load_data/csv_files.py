"""Your CSV file as a Table: a header row, then columns of numbers or text, with values missing here and there.

pandas' C parser reads the file. Each column is typed by itself: numbers when every value present is
a number, text (categories) otherwise. A value is missing when its cell is empty or says NA, NaN or
null. Rows whose target is missing are left out (the log counts them); anything else that cannot be
used stops load-data with one sentence that names the file, line and column.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from mlsteps.load_data.datasets import MAX_ABS_VALUE, MIN_ROWS, DataError, validated
from mlsteps.table import Table, make_frame

log = logging.getLogger("mlsteps.load_data")
MISSING = ("", "NA", "NaN", "null")  # what a cell says when its value is missing (after its spaces are cut)


def _rows(handle) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each non-blank row: one row at a time, never the whole file."""
    reader = csv.reader(handle)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


@contextmanager
def _open(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            yield handle
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot be read as a UTF-8 CSV file ({error}).") from None


def _read_header(path: Path, target_column: str | None) -> tuple[int, list[str]]:
    """(line number, names) of the header row, once it has the target column (if any) and a feature."""
    if not path.is_file():
        raise DataError(": no such file; give csv:<path to an existing file>.", field="dataset", value=f"csv:{path}")
    with _open(path) as handle:
        line, header = next(_rows(handle), (0, []))
    if not header:
        raise DataError(f"{path}: the file is empty; it needs a header row and at least {MIN_ROWS} data rows.")
    header = [cell.strip() for cell in header]
    if target_column is not None and target_column not in header:
        raise DataError(
            f": {path}, line {line} has no column {target_column!r} (columns: {', '.join(header)}); "
            "set it to the column to predict, or MLSTEPS_TASK=clustering to predict none.",
            field="target_column",
        )
    if len(header) < 1 + (target_column is not None):
        raise DataError(f"{path}: needs at least one feature column besides {target_column!r}.")
    if len(set(header)) < len(header):
        twice = sorted({name for name in header if header.count(name) > 1})
        raise DataError(f"{path}: line {line} names the column {twice[0]!r} twice; give each column its own name.")
    return line, header


def _line_of(path: Path, header_line: int, index: int) -> int:
    """The file's line number of data row `index` (0 is the first row after the header; blank lines skipped)."""
    with _open(path) as handle:
        data_rows = (line for line, _ in _rows(handle) if line > header_line)
        return next(line for i, line in enumerate(data_rows) if i == index)


def _short_row(path: Path, header_line: int, width: int) -> DataError | None:
    """The first row with another number of fields than the header, as an error; None when all fit."""
    with _open(path) as handle:
        for line, row in _rows(handle):
            if line > header_line and len(row) != width:
                return DataError(f"{path}: line {line} has {len(row)} fields, the header has {width}.")
    return None


def _parse(path: Path, header_line: int, width: int) -> pd.DataFrame:
    """Every cell as text (missing ones as NaN), cut of spaces; the columns are typed after."""
    try:
        with _open(path) as handle:
            frame = pd.read_csv(
                handle,
                skiprows=header_line - 1,
                dtype=str,
                na_values=list(MISSING),
                keep_default_na=False,
                skip_blank_lines=True,
            )
    except (pd.errors.ParserError, ValueError) as error:
        raise _short_row(path, header_line, width) or DataError(
            f"{path}: cannot be read as a CSV table ({str(error).strip().splitlines()[0]})."
        ) from None
    if frame.iloc[:, -1].isna().any():  # a row with too few fields leaves its last cells missing: say which
        short = _short_row(path, header_line, width)
        if short:
            raise short
    frame.columns = [str(name).strip() for name in frame.columns]
    frame = frame.apply(lambda column: column.str.strip())
    return frame.mask(frame.isin(MISSING))


def _typed(path: Path, header_line: int, name: str, column: pd.Series) -> np.ndarray:
    """Numbers (float64, NaN where missing) when every value present is a number; text (None where missing) else."""
    numbers = pd.to_numeric(column, errors="coerce")
    present = column.notna()
    if not (numbers.notna() | ~present).all():
        text = column.astype(object).where(present, None).to_numpy()
        words = present & numbers.isna()
        if numbers.notna().sum() > words.sum():  # mostly numbers: a typo is likelier than a category
            index = int(np.flatnonzero(words.to_numpy())[0])
            log.warning(
                "column %r is read as text (categories): %r on line %d is not a number",
                *(name, column.iloc[index], _line_of(path, header_line, index)),
            )
        return text
    values = numbers.to_numpy(dtype=float)
    bad = present.to_numpy() & ~(np.abs(values) <= MAX_ABS_VALUE)  # also true for inf
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        cell, line = column.iloc[index], _line_of(path, header_line, index)
        problem = "is not a finite number" if not np.isfinite(values[index]) else "is too large to train on"
        raise DataError(
            f"{path}: line {line}, column {name!r}: {cell!r} {problem} "
            f"(numbers must lie within ±{MAX_ABS_VALUE:g}); fix or rescale the column."
        )
    return values


def read_csv_table(path: Path, target_column: str, task: str = "auto") -> Table:
    """Read a learner's CSV; with task "clustering" the target column is optional (and left out if there)."""
    header_line, header = _read_header(path, None if task == "clustering" else target_column)
    frame = _parse(path, header_line, len(header))
    columns = {name: _typed(path, header_line, name, frame[name]) for name in frame.columns}
    y = None
    if target_column in columns:
        y = columns.pop(target_column)
        if task == "clustering":
            log.info("column %r is left out: clustering predicts no target", target_column)
            y = None
    if y is not None:
        kept = ~pd.isna(y)
        if not kept.all():
            log.info("left out %d of %d rows: their target %r is missing", (~kept).sum(), len(y), target_column)
            columns = {name: values[kept] for name, values in columns.items()}
            y = y[kept]
        if y.dtype == object:
            y = y.astype(str)
    if not columns:
        raise DataError(f"{path}: needs at least one feature column besides {target_column!r}.")
    table = Table(make_frame(columns), y, task, target_column if y is not None else "", f"csv:{path}")
    return validated(table, str(path))
