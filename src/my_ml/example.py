"""An example of your own ML code: a data loader and a pipeline, each named by one setting.

    MLSTEPS_DATASET=python:my_ml.example:load_table      what load-data reads, each time it runs
    MLSTEPS_PIPELINE=my_ml.example:make_pipeline         what train fits, each time it runs

Edit this file (or add your own module beside it), then restart or rebuild as docs/your-own-model.md
says for your level: the same file runs at every level.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler


def load_table() -> dict:
    """Return the data for one snapshot: X (rows of values), y (one target per row), feature_names.

    Or return a pandas DataFrame (its target in the MLSTEPS_TARGET_COLUMN column): columns may hold
    numbers or text, with missing values. Leave y out for a clustering task; add "task" to declare it.
    Here: scikit-learn's wine dataset with two engineered features, the kind of wrangling a real
    loader does after reading a database or an API.
    """
    from sklearn.datasets import load_wine

    wine = load_wine()
    names = list(wine.feature_names)
    X = wine.data
    alcohol, flavanoids = X[:, names.index("alcohol")], X[:, names.index("flavanoids")]
    X = np.column_stack([X, alcohol * flavanoids, np.log1p(X[:, names.index("proline")])])
    return {
        "X": X,
        "y": [str(wine.target_names[i]) for i in wine.target],
        "feature_names": [*names, "alcohol_x_flavanoids", "log_proline"],
    }


def make_pipeline(task: str):
    """Return a new, unfitted scikit-learn estimator or Pipeline for `task`.

    `task` is "classification", "regression" or "clustering" (MLSTEPS_TASK, or the data's best guess);
    the estimator's own kind then decides when the task is auto. It is fitted on a pandas DataFrame
    with the column names. Naming the steps "scale" and "model" lets MLSTEPS_PARAM_GRID tune them,
    e.g. '{"model__C": [0.1, 1, 10]}'.
    """
    model = LogisticRegression(max_iter=2000) if task == "classification" else Ridge()
    return Pipeline([("scale", StandardScaler()), ("pairs", PolynomialFeatures(degree=2)), ("model", model)])
