"""load-data's sources: a bundled dataset (with simulated new rows), your CSV file, or your own loader."""

from __future__ import annotations

import numpy as np

from mlsteps.config import Settings
from mlsteps.learner_code import load_callable
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.datasets import DataError, bundled, guess_task, simulate_new_samples, validated
from mlsteps.table import Table


def _from_loader(spec: str, target_column: str) -> Table:
    """The dataset python:module:function: call the learner's loader and check what it returned.

    The loader returns a mapping with X (rows of numbers), feature_names, and y (targets; leave it
    out for clustering), or a scikit-learn Bunch (data, target, feature_names).
    """
    setting = {"field": "dataset", "value": f"python:{spec}"}  # what every error below names
    result = load_callable(spec, "dataset", prefix="python:")()
    if not hasattr(result, "get"):
        raise DataError(f"returned {type(result).__name__}; return a dict with X, y and feature_names.", **setting)
    X, y, names = (
        result.get("X", result.get("data")),
        result.get("y", result.get("target")),
        result.get("feature_names"),
    )
    if X is None or names is None:
        raise DataError("returned no X or no feature_names; return a dict with X, y and feature_names.", **setting)
    if y is None:
        task = "clustering"
    else:
        y = np.asarray(y)
        task = guess_task(y.astype(str))
        y = y.astype(str) if task == "classification" else y.astype(float)
    try:
        return validated(Table(list(names), X, y, task, target_column, f"python:{spec}"), where="")
    except DataError as error:  # its sentence goes on after the setting: ": has 3 rows; ..."
        raise DataError(error.message, **setting) from None


def fetch(settings: Settings, sequence: int) -> Table:
    """The table for snapshot number `sequence` of the configured source."""
    if settings.csv_path is not None:
        return read_csv_table(settings.csv_path, settings.target_column)
    if settings.dataset.startswith("python:"):
        return _from_loader(settings.dataset.removeprefix("python:"), settings.target_column)
    return simulate_new_samples(bundled(settings.dataset), sequence, settings.seed, settings.samples_per_snapshot)
