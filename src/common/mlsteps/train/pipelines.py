"""What train fits: a named built-in pipeline, or the learner's own (MLSTEPS_PIPELINE=module:function).

Every built-in scales the features, then fits one model, in a Pipeline whose steps are named
"scale" and "model": so MLSTEPS_PARAM_GRID names parameters the same way for all of them
(`model__C`, `model__n_estimators`, ...).
"""

from __future__ import annotations

import importlib

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from mlsteps.config import BUILTIN_PIPELINES as BUILTINS  # defined once, beside the setting that names them
from mlsteps.config import DEFAULT_PIPELINES as DEFAULTS
from mlsteps.config import ConfigError
from mlsteps.learner_code import load_callable

ESTIMATOR_TYPE = {"classification": "classifier", "regression": "regressor", "clustering": "clusterer"}


def _builtin(name: str, task: str) -> Pipeline:
    models = BUILTINS[name]
    if task not in models:
        raise ConfigError(
            f"has no {task} model; for {task} use one of {', '.join(n for n, m in BUILTINS.items() if task in m)}.",
            field="pipeline",
            value=name,
        )
    path, arguments = models[task]
    module, _, name = path.rpartition(".")
    model = getattr(importlib.import_module(module), name)(**arguments)
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def _learners(spec: str, task: str) -> BaseEstimator:
    estimator = load_callable(spec, "pipeline")(task)
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise ConfigError(
            f"returned {type(estimator).__name__}, not a scikit-learn estimator or pipeline.",
            field="pipeline",
            value=spec,
        )
    try:
        kind = get_tags(estimator).estimator_type
    except Exception:  # not built on scikit-learn's base classes: its kind cannot be read
        kind = None
    if kind != ESTIMATOR_TYPE[task]:
        raise ConfigError(
            f"returned a {kind or 'model of unknown kind'}; "
            f"this dataset is {task}, which needs a {ESTIMATOR_TYPE[task]}.",
            field="pipeline",
            value=spec,
        )
    return estimator


def make_estimator(spec: str, task: str) -> BaseEstimator:
    """A new, unfitted estimator for `task` from MLSTEPS_PIPELINE's value (empty: the task's default)."""
    name = spec or DEFAULTS[task]
    return _builtin(name, task) if name in BUILTINS else _learners(name, task)


def describe(estimator: BaseEstimator) -> str:
    """'StandardScaler -> LogisticRegression': what was fitted, for the metadata and the log."""
    steps = estimator.steps if isinstance(estimator, Pipeline) else [(None, estimator)]
    return " -> ".join(type(step).__name__ for _, step in steps)
