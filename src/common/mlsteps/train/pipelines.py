"""What train fits: a named built-in pipeline, or the learner's own (MLSTEPS_PIPELINE=module:function).

Every pipeline gets the table as a pandas DataFrame: number columns (NaN where missing) and text
columns (pandas categories). Every built-in prepares the columns, then fits one model, in a Pipeline
whose steps are named "prepare" and "model": so MLSTEPS_PARAM_GRID names parameters the same way for
all of them (`model__C`, `model__n_estimators`, ...). Preparing means, as scikit-learn's user guide
on mixed tables does it: missing numbers filled in with the column's median (SimpleImputer), then
scaled (StandardScaler); text one-hot encoded (OneHotEncoder), a missing value being a category of
its own and a category never seen in training none of them (handle_unknown="ignore"). `boosting`
needs none of it: HistGradientBoosting splits on missing values and on categories natively
(categorical_features="from_dtype").
"""

from __future__ import annotations

import importlib

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from mlsteps.config import BUILTIN_PIPELINES as BUILTINS  # defined once, beside the setting that names them
from mlsteps.config import DEFAULT_PIPELINES as DEFAULTS
from mlsteps.config import ConfigError
from mlsteps.learner_code import load_callable
from mlsteps.model_contract import task_of
from mlsteps.table import NUMBER, TEXT

ESTIMATOR_TYPE = {"classification": "classifier", "regression": "regressor", "clustering": "clusterer"}
NATIVE = {"boosting"}  # built-ins that take missing values and categories as they are


def preparation(features: list[dict]):
    """Fill in and scale the numbers; one-hot encode the text (all numbers: a Pipeline the fast path can fold)."""
    numbers = [f["name"] for f in features if f["type"] == NUMBER]
    texts = [f["name"] for f in features if f["type"] == TEXT]
    scaled = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    if not texts:
        return scaled
    parts = [("numbers", scaled, numbers)] if numbers else []
    return ColumnTransformer([*parts, ("text", OneHotEncoder(handle_unknown="ignore"), texts)])


def _builtin(name: str, task: str, features: list[dict]) -> Pipeline:
    models = BUILTINS[name]
    if task not in models:
        raise ConfigError(
            f"has no {task} model; for {task} use one of {', '.join(n for n, m in BUILTINS.items() if task in m)}.",
            field="pipeline",
            value=name,
        )
    path, arguments = models[task]
    module, _, class_name = path.rpartition(".")
    model = getattr(importlib.import_module(module), class_name)(**arguments)
    if name in NATIVE:
        return Pipeline([("model", model)])
    return Pipeline([("prepare", preparation(features)), ("model", model)])


def learners_estimator(spec: str, task: str) -> BaseEstimator:
    """The learner's factory called with `task` (its best guess when the task is auto); checked to be an estimator."""
    estimator = load_callable(spec, "pipeline")(task)
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise ConfigError(
            f"returned {type(estimator).__name__}, not a scikit-learn estimator or pipeline.",
            field="pipeline",
            value=spec,
        )
    if is_fitted(estimator):  # train would fit it again, silently: a model trained elsewhere is imported instead
        raise ConfigError(
            f"MLSTEPS_PIPELINE={spec!r} returned a fitted {describe(estimator)}; train fits a new estimator, "
            "so return it unfitted, or publish the fitted one with `mlsteps import-model FILE`."
        )
    return estimator


def is_fitted(estimator: BaseEstimator) -> bool:
    """scikit-learn's own test (check_is_fitted): fitted attributes, or the estimator's __sklearn_is_fitted__."""
    try:
        check_is_fitted(estimator)
    except Exception:  # NotFittedError, or not an estimator at all
        return False
    return True


def choose(
    spec: str, declared: str | None, guess: tuple[str, str], features: list[dict]
) -> tuple[BaseEstimator, str, str]:
    """(a new, unfitted estimator; the task; why that task), from MLSTEPS_PIPELINE and MLSTEPS_TASK.

    A declared task wins; else the learner's estimator says (a classifier, a regressor or a
    clusterer); else the target's guess. A declared task the estimator contradicts: ConfigError.
    """
    task = declared or guess[0]
    if not spec or spec in BUILTINS:
        why = "declared" if declared else f"guessed: {guess[1]}; set MLSTEPS_TASK to say otherwise"
        return _builtin(spec or DEFAULTS[task], task, features), task, why
    estimator = learners_estimator(spec, task)
    kind = task_of(estimator)
    if declared and kind and kind != declared:
        raise ConfigError(
            f"returned a {ESTIMATOR_TYPE[kind]} ({describe(estimator)}), "
            f"and the task is declared {declared}, which needs a {ESTIMATOR_TYPE[declared]}.",
            field="pipeline",
            value=spec,
        )
    if declared:
        return estimator, declared, "declared"
    if kind:
        return estimator, kind, f"from the estimator: {describe(estimator)} is a {ESTIMATOR_TYPE[kind]}"
    return estimator, task, f"guessed: {guess[1]}; the estimator's kind cannot be read (set MLSTEPS_TASK)"


def make_estimator(spec: str, task: str, features: list[dict] | None = None) -> BaseEstimator:
    """A new, unfitted estimator for `task` from MLSTEPS_PIPELINE's value (empty: the task's default)."""
    name = spec or DEFAULTS[task]
    return _builtin(name, task, features or []) if name in BUILTINS else learners_estimator(name, task)


def describe(estimator: BaseEstimator) -> str:
    """'SimpleImputer -> StandardScaler -> LogisticRegression': what was fitted, for the metadata and the log."""
    if isinstance(estimator, Pipeline):
        return " -> ".join(describe(step) for _, step in estimator.steps)
    if isinstance(estimator, ColumnTransformer):
        parts = [describe(part) for _, part, _ in estimator.transformers if part not in ("drop", "passthrough")]
        return f"ColumnTransformer({' | '.join(parts)})"
    return type(estimator).__name__
