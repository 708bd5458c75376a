"""Where the data comes from: a bundled dataset with simulated new arrivals, your CSV, or your own loader."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from mlsteps.config import BUNDLED_DATASETS
from mlsteps.errors import UserError
from mlsteps.table import NUMBER, TASKS, Table, TargetError, describe_columns, target_for

MIN_ROWS = 10
MAX_ABS_VALUE = 1e150  # larger values overflow to infinity when squared (variance, scaling)
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
        frame = pd.DataFrame(X, columns=["x1", "x2"])
        return Table(frame, None, task, "", f"sklearn:make_blobs ({len(BLOB_CENTERS)} centers)")
    bunch = getattr(datasets, f"load_{name}")()
    names = [str(n).replace(" ", "_").replace("(", "").replace(")", "") for n in bunch.feature_names]
    if task == "classification":
        labels = np.asarray([str(bunch.target_names[i]) for i in bunch.target], dtype=str)
    else:
        labels = bunch.target.astype(float)
    return Table(pd.DataFrame(bunch.data.astype(float), columns=names), labels, task, "target", f"sklearn:{name}")


def simulate_new_samples(base: Table, sequence: int, seed: int, rows: int) -> Table:
    """Resample `base` with noise and a slow, bounded drift; the same inputs always give the same table.

    Rows are drawn with replacement, so one base row can give several noisy copies: each row's
    `groups` entry says which base row it came from, and train keeps copies of one row together.
    """
    rng = np.random.default_rng([seed, sequence])
    picks = rng.integers(0, len(base.X), size=rows)
    X0 = base.X.to_numpy(dtype=float)
    spread = X0.std(axis=0)
    direction = np.random.default_rng(seed).choice([-1.0, 1.0], size=X0.shape[1])
    drift = 0.3 * math.sin(2 * math.pi * sequence / DRIFT_PERIOD) * spread * direction
    X = X0[picks] + rng.normal(0.0, 0.05, size=(rows, X0.shape[1])) * spread + drift
    y = None if base.y is None else base.y[picks]
    if base.task == "regression":
        y = y + rng.normal(0.0, 0.05 * base.y.std(), size=rows)
    frame = pd.DataFrame(np.round(X, 4), columns=base.X.columns)
    return Table(frame, y, base.task, base.target_name, base.source, groups=picks)


def _check_columns(X: pd.DataFrame, where: str) -> None:
    """Enough rows, a value in every column somewhere, and no number beyond what training can square."""
    if len(X.columns) == 0:
        raise DataError(f"{where}: has no feature column.")
    if len(X) < MIN_ROWS:
        raise DataError(f"{where}: has {len(X)} rows; at least {MIN_ROWS} are needed to train and evaluate.")
    empty = [str(name) for name in X.columns if X[name].isna().all()]
    if empty:
        raise DataError(f"{where}: column {empty[0]!r} has no value in any row; remove it or fill it in.")
    numbers = [f["name"] for f in describe_columns(X) if f["type"] == NUMBER]
    values = X[numbers].to_numpy(dtype=float)
    if not np.all(np.isnan(values) | (np.abs(values) <= MAX_ABS_VALUE)):
        raise DataError(f"{where}: a column holds infinity or values beyond {MAX_ABS_VALUE:g}; clean or rescale it.")


def validated(table: Table, where: str) -> Table:
    """The checks every source passes (CSV, your loader): enough rows, usable values, a target fit for the task."""
    _check_columns(table.X, where)
    if table.task not in (*TASKS, "auto"):
        raise DataError(f"{where}: the task {table.task!r} is not one of auto, {', '.join(TASKS)}.")
    if table.task == "clustering" or table.y is None:
        if table.task not in ("clustering", "auto"):
            raise DataError(f"{where}: has no target, and a {table.task} needs one (or set MLSTEPS_TASK=clustering).")
        return Table(table.X, None, "clustering", "", table.source, table.groups)
    if len(table.y) != len(table.X):
        raise DataError(f"{where}: y must hold one target per row of X ({len(table.X)}).")
    if table.task != "auto":
        try:
            target_for(table.task, table.y, table.target_name or "target")
        except TargetError as error:
            raise DataError(f"{where}: {error}.") from None
    elif len(np.unique(table.y.astype(str))) < 2:
        raise DataError(f"{where}: the target holds one value only ({str(table.y[0])!r}); there is nothing to learn.")
    return table
