"""load-data's sources: a bundled dataset (with simulated new rows), your CSV file, or your own loader."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlsteps.config import Settings
from mlsteps.learner_code import load_callable
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.datasets import DataError, bundled, simulate_new_samples, validated
from mlsteps.load_data.remote_csv import is_remote_csv, read_remote_csv_table
from mlsteps.table import TASKS, Table, make_frame

RETURN = "return a DataFrame, or a dict with X, y and feature_names"


def _columns(X, names, where: str) -> dict[str, np.ndarray]:
    """The loader's X as named columns: a DataFrame keeps its names and kinds, rows of values get `names`."""
    if isinstance(X, pd.DataFrame):
        frame = X if names is None else X.set_axis(list(names), axis=1)
    else:
        rows = np.asarray(X, dtype=object)
        if rows.ndim != 2 or names is None or rows.shape[1] != len(names) or rows.shape[1] == 0:
            raise DataError(
                f"{where}: X must be a 2-D table with one column per feature name "
                f"({len(names or [])} names, X has shape {np.shape(X)})."
            )
        frame = pd.DataFrame(rows, columns=list(map(str, names))).infer_objects()
    columns = {}
    for name, column in frame.items():
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns[str(name)] = column.to_numpy(dtype=float, na_value=np.nan)
        elif (
            isinstance(column.dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(column)
            or (pd.api.types.is_string_dtype(column))
        ):
            columns[str(name)] = column.astype(object).where(column.notna(), None).to_numpy()
        else:
            raise DataError(
                f"{where}: column {str(name)!r} holds {column.dtype} values, which cannot be used; "
                "turn them into numbers or text."
            )
    return columns


def _from_loader(spec: str, settings: Settings) -> Table:
    """MLSTEPS_DATASET=python:module:function: call the learner's loader and check what it returned.

    The loader returns a pandas DataFrame (the target in MLSTEPS_TARGET_COLUMN, if any), or a mapping
    with X (a DataFrame, or rows of values), feature_names (optional for a DataFrame) and y (leave it
    out for clustering), and optionally "task"; or a scikit-learn Bunch (data, target, feature_names).
    """
    where = f"MLSTEPS_DATASET='python:{spec}'"
    result = load_callable(spec, "dataset", prefix="python:")()
    if isinstance(result, pd.DataFrame):
        target = settings.target_column
        y = result[target].to_numpy() if target in result.columns else None
        result = {"X": result.drop(columns=[target], errors="ignore"), "y": y}
    if not hasattr(result, "get"):
        raise DataError(f"{where} returned {type(result).__name__}; {RETURN}.")
    X, y, names = (
        result.get("X", result.get("data")),
        result.get("y", result.get("target")),
        result.get("feature_names"),
    )
    if X is None or (names is None and not isinstance(X, pd.DataFrame)):
        raise DataError(f"{where} returned no X or no feature_names; {RETURN}.")
    task = _declared(result.get("task"), settings.task, where)
    if y is not None:
        y = np.asarray(y)
        y = y.astype(str) if y.dtype.kind not in "biuf" else y
    table = Table(make_frame(_columns(X, names, where)), y, task, settings.target_column, f"python:{spec}")
    return validated(table, where)


def _declared(returned, setting: str, where: str) -> str:
    """The task the loader returned and the one MLSTEPS_TASK declares, which must not contradict each other."""
    if returned is None:
        return setting
    if returned not in TASKS:
        raise DataError(f"{where} returned the task {returned!r}; use one of {', '.join(TASKS)}.")
    if setting not in ("auto", returned):
        raise DataError(
            f"{where} returned the task {returned!r}, and MLSTEPS_TASK={setting!r}; declare it in one place."
        )
    return returned


def _with_task(table: Table, task: str) -> Table:
    """A bundled dataset with the task MLSTEPS_TASK declares (clustering leaves the target out), checked."""
    if task in ("auto", table.task):
        return table
    y = None if task == "clustering" else table.y
    return validated(Table(table.X, y, task, table.target_name, table.source, table.groups), "MLSTEPS_TASK")


def fetch(settings: Settings, sequence: int) -> Table:
    """The table for snapshot number `sequence` of the configured source."""
    if settings.dataset.startswith("csv:") and is_remote_csv(settings.dataset.removeprefix("csv:")):
        url, timeout = settings.dataset.removeprefix("csv:"), settings.store_timeout_seconds
        return read_remote_csv_table(url, settings.target_column, settings.task, timeout)
    if settings.csv_path is not None:
        return read_csv_table(settings.csv_path, settings.target_column, settings.task)
    if settings.dataset.startswith("python:"):
        return _from_loader(settings.dataset.removeprefix("python:"), settings)
    base = simulate_new_samples(bundled(settings.dataset), sequence, settings.seed, settings.samples_per_snapshot)
    return _with_task(base, settings.task)
