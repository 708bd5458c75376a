"""The table every step passes on: load-data makes it, the volume stores it, train fits on it.

Its features are a pandas DataFrame, as scikit-learn's own examples of mixed tables use: each
column holds numbers (float64, NaN where a value is missing) or text (pandas `category`, whose
categories are the values seen, NaN where missing), under its own name. Each column's kind is
recorded with the model (`features`), so serve turns a request's rows into the same DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

NUMBER, TEXT = "number", "text"
TASKS = ("classification", "regression", "clustering")
MAX_CLASSES_FOR_NUMBERS = 20


class TargetError(ValueError):
    """The target cannot serve the task (text for a regression, one class, ...); one sentence."""


@dataclass(frozen=True)
class Table:
    """Features, target and what they mean: the unit that moves from load-data to train."""

    X: pd.DataFrame
    y: np.ndarray | None  # None for clustering: there is nothing to predict, only groups to find
    task: str  # "classification", "regression", "clustering", or "auto": train decides (see train.task)
    target_name: str
    source: str
    # The row each row was drawn from, when rows are resampled copies (simulated data): train keeps
    # copies of one row on the same side of its split. None: each distinct row is its own group.
    groups: np.ndarray | None = None

    @property
    def feature_names(self) -> list[str]:
        return [str(name) for name in self.X.columns]

    def features(self) -> list[dict]:
        """Each column's name and kind (and a text column's categories): what serve's requests must hold."""
        return describe_columns(self.X)


def describe_columns(X: pd.DataFrame) -> list[dict]:
    described = []
    for name in X.columns:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            described.append({"name": str(name), "type": TEXT, "categories": [str(c) for c in column.cat.categories]})
        else:
            described.append({"name": str(name), "type": NUMBER})
    return described


def text_column(values) -> pd.Categorical:
    """Text as a pandas category: the values seen, in sorted order, missing (None, NaN) as NaN."""
    values = np.asarray(values, dtype=object)
    present = ~pd.isna(values)
    text = np.where(present, values.astype(str), None)
    return pd.Categorical(text, categories=sorted(set(text[present])))


def make_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame of number columns (float64) and text columns (category) from named arrays."""
    data = {}
    for name, values in columns.items():
        values = np.asarray(values)
        data[str(name)] = values.astype(float) if values.dtype.kind in "biuf" else text_column(values)
    return pd.DataFrame(data)


def stored_columns(X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The frame as named numpy arrays: float64 with NaN, or Python strings with None (the snapshot's form)."""
    arrays = {}
    for name in X.columns:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            values = column.astype(object).to_numpy(copy=True)
            values[pd.isna(values)] = None
            arrays[str(name)] = values
        else:
            arrays[str(name)] = column.to_numpy(dtype=float)
    return arrays


def guess_task(y: np.ndarray) -> tuple[str, str]:
    """(task, why) from the target alone: text or a few whole numbers mean classes, other numbers a value."""
    if y.dtype.kind not in "biuf":
        return "classification", "the target holds text"
    numbers = y.astype(float)
    distinct = len(np.unique(numbers))
    if np.all(numbers == np.round(numbers)) and distinct <= MAX_CLASSES_FOR_NUMBERS:
        return (
            "classification",
            f"the target holds {distinct} distinct whole numbers (at most {MAX_CLASSES_FOR_NUMBERS})",
        )
    if distinct > MAX_CLASSES_FOR_NUMBERS:
        return "regression", f"the target holds {distinct} distinct numbers (more than {MAX_CLASSES_FOR_NUMBERS})"
    return "regression", "the target holds numbers that are not whole"


def target_for(task: str, y: np.ndarray, name: str) -> np.ndarray:
    """The target as `task` needs it: labels that keep their type (whole numbers stay integers), or floats.

    TargetError, in one sentence, when the target cannot serve the task.
    """
    numeric = y.dtype.kind in "biuf"
    if task == "regression":
        if not numeric:
            raise TargetError(
                f"the target {name!r} holds text ({str(y[0])!r}), and a regression needs numbers; "
                "set MLSTEPS_TASK=classification or choose another target column"
            )
        return y.astype(float)
    if numeric:
        numbers = y.astype(float)
        if not np.all(numbers == np.round(numbers)):
            raise TargetError(
                f"the target {name!r} holds decimal numbers, and a classifier needs classes; "
                "set MLSTEPS_TASK=regression"
            )
        labels = numbers.astype(np.int64)
    else:
        labels = np.asarray([str(value) for value in y], dtype=object)
    if len(np.unique(labels)) < 2:
        raise TargetError(
            f"the target {name!r} holds one class only ({str(labels[0])!r}); a classifier needs at least two"
        )
    return labels
