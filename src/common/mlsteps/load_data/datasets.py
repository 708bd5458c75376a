"""Where the data comes from: a bundled dataset with simulated new arrivals, your CSV, or your own loader."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from mlsteps.config import BUNDLED_DATASETS
from mlsteps.errors import UserError
from mlsteps.table import Table

MIN_ROWS = 10
MAX_ABS_VALUE = 1e150  # larger values overflow to infinity when squared (variance, scaling)
MAX_CLASSES_FOR_NUMBERS = 20
DRIFT_PERIOD = 50  # snapshots per full cycle of the simulated drift
BLOB_CENTERS = [[-5.0, -5.0], [-5.0, 5.0], [5.0, -5.0], [5.0, 5.0]]  # far apart: the best k is 4


class DataError(UserError):
    """The data cannot be used; the message names the file, line or column to fix."""


@lru_cache
def bundled(name: str) -> Table:
    """One of scikit-learn's bundled datasets (shipped inside the wheel: no download)."""
    from sklearn import datasets

    task = BUNDLED_DATASETS[name]
    if task == "clustering":  # made, not loaded: four groups of points in two dimensions
        X, _ = datasets.make_blobs(n_samples=600, centers=BLOB_CENTERS, cluster_std=1.0, random_state=0)
        return Table(["x1", "x2"], X, None, task, "", f"sklearn:make_blobs ({len(BLOB_CENTERS)} centers)")
    bunch = getattr(datasets, f"load_{name}")()
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
    y = None if base.y is None else base.y[picks]
    if base.task == "regression":
        y = y + rng.normal(0.0, 0.05 * base.y.std(), size=rows)
    return Table(base.feature_names, np.round(X, 4), y, base.task, base.target_name, base.source)


def validated(table: Table, where: str) -> Table:
    """The checks every source passes (CSV, your loader): enough rows, usable numbers, two classes or more."""
    X = np.asarray(table.X, dtype=float) if np.ndim(table.X) == 2 else None
    if X is None or X.shape[1] != len(table.feature_names) or X.shape[1] == 0:
        raise DataError(
            f"{where}: X must be a 2-D table with one column per feature name "
            f"({len(table.feature_names)} names, X has shape {np.shape(table.X)})."
        )
    if len(X) < MIN_ROWS:
        raise DataError(f"{where}: has {len(X)} rows; at least {MIN_ROWS} are needed to train and evaluate.")
    if not np.all(np.abs(X) <= MAX_ABS_VALUE):  # False for NaN and infinity too
        raise DataError(f"{where}: X holds NaN, infinity or values beyond {MAX_ABS_VALUE:g}; clean or rescale them.")
    if table.task != "clustering" and (table.y is None or len(table.y) != len(X)):
        raise DataError(f"{where}: y must hold one target per row of X ({len(X)}).")
    if table.task == "classification" and len(np.unique(table.y)) < 2:
        raise DataError(
            f"{where}: the target holds one class only ({str(table.y[0])!r}); a classifier needs at least two."
        )
    return Table(list(map(str, table.feature_names)), X, table.y, table.task, table.target_name, table.source)


def guess_task(values: np.ndarray) -> str:
    """Text or a few whole numbers mean classes; anything else numeric is a regression target."""
    try:
        numbers = values.astype(float)
    except ValueError:
        return "classification"
    whole = bool(np.all(numbers == np.round(numbers)))
    return "classification" if whole and len(np.unique(numbers)) <= MAX_CLASSES_FOR_NUMBERS else "regression"
