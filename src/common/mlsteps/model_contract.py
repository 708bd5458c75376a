"""The estimator's own contract, one module for every step that handles a fitted model: what it answers,
and the trial that proves it.

scikit-learn defines the contract, and this module only follows it: the task comes from
`is_classifier`, `is_regressor`, `is_clusterer`; labels come from `predict` (a
`FixedThresholdClassifier` shows why the argmax of `predict_proba` is not the same); probabilities
only where the estimator has `predict_proba`, a clusterer's distances only where it has `transform`.
Train runs `trial` on its holdout before publishing (a model serve would refuse is never published);
serve runs it on probe rows before a model goes live, and `bootstrap --if-missing` before it trusts
the model already there. The volume and the steps never import each other; they all import this.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_clusterer, is_regressor

from mlsteps.table import NUMBER, TEXT

PROBABILITIES, DISTANCES = "probabilities", "distances"


class ContractError(ValueError):
    """A fitted model does not answer as its contract says; the message is the end of a sentence."""


def task_of(estimator) -> str | None:
    """The task scikit-learn's own tags give the estimator (a Pipeline: its last step); None when unknown."""
    for check, task in ((is_classifier, "classification"), (is_regressor, "regression"), (is_clusterer, "clustering")):
        try:
            if check(estimator):
                return task
        except Exception:  # not built on scikit-learn's base classes: its tags cannot be read
            return None
    return None


def outputs(model, task: str) -> list[str]:
    """What the fitted model can answer beyond `predictions` (labels, values or clusters)."""
    if task == "classification":
        return ["predictions", "classes"] + ([PROBABILITIES] if hasattr(model, "predict_proba") else [])
    if task == "clustering":
        return ["predictions"] + ([DISTANCES] if hasattr(model, "transform") else [])
    return ["predictions"]


def features_of(metadata: dict) -> list[dict]:
    """Each feature's name and kind; a model recorded before kinds were (numbers only) gets them made up."""
    return metadata.get("features") or [{"name": name, "type": NUMBER} for name in metadata["feature_names"]]


def is_all_numbers(features: list[dict]) -> bool:
    return all(feature["type"] == NUMBER for feature in features)


def frame(columns: list, features: list[dict]) -> pd.DataFrame:
    """Rows given column by column (numbers with NaN, text with None) as the DataFrame the model was fitted on.

    A text column becomes a category whose categories are those seen in training, then any new ones:
    what a new category means is the model's business (the built-ins ignore it), never a crash here.
    """
    data = {}
    for feature, values in zip(features, columns, strict=True):
        if feature["type"] == TEXT:
            known = feature.get("categories", [])
            unseen = sorted({value for value in values if value is not None} - set(known))
            data[feature["name"]] = pd.Categorical(values, categories=[*known, *unseen])
        else:
            data[feature["name"]] = np.asarray(values, dtype=float)
    return pd.DataFrame(data)


def numbers_frame(X: np.ndarray, features: list[dict]) -> pd.DataFrame:
    """A float matrix as the DataFrame an all-numbers model was fitted on (its column names)."""
    return pd.DataFrame(X, columns=[feature["name"] for feature in features], copy=False)


def probe_frame(features: list[dict]) -> pd.DataFrame:
    """Two made-up rows of known values (0 and 1; a text column's first and last category)."""
    columns = []
    for feature in features:
        if feature["type"] == TEXT:
            categories = feature.get("categories") or ["?"]
            columns.append([categories[0], categories[-1]])
        else:
            columns.append([0.0, 1.0])
    return frame(columns, features)


def answer(model, X, task: str, has: list[str]) -> dict:
    """The model's own answers for rows `X`: arrays, unrounded, labels in their own type."""
    result = {"predictions": np.asarray(model.predict(X))}
    if task == "classification":
        result["classes"] = np.asarray(model.classes_)
        if PROBABILITIES in has:
            result[PROBABILITIES] = np.asarray(model.predict_proba(X), dtype=float)
    elif task == "clustering":
        if DISTANCES in has:  # e.g. K-means: each row's distance to the centre of its own cluster
            result[DISTANCES] = np.asarray(model.transform(X), dtype=float).min(axis=1)
    else:
        result["predictions"] = result["predictions"].astype(float)
    return result


def trial(model, X, task: str, classes: list | None = None) -> dict:
    """The model's answers to rows `X`, after checking them against its contract; ContractError if they break it."""
    if not hasattr(model, "predict"):
        last = model.steps[-1][1] if hasattr(model, "steps") else model
        raise ContractError(f"a {type(last).__name__} has no predict method, so it cannot answer new rows")
    has = outputs(model, task)
    try:
        result = answer(model, X, task, has)
    except Exception as error:  # whatever the model raises: it cannot answer these rows
        raise ContractError(f"it could not answer {len(X)} rows ({type(error).__name__}: {error})") from None
    predictions = result["predictions"]
    if predictions.shape != (len(X),):
        raise ContractError(f"it answered predictions of shape {predictions.shape} for {len(X)} rows")
    if task == "classification":
        _check_classes(result, classes, len(X))
    elif task == "regression" and not np.isfinite(predictions).all():
        raise ContractError("it answered values that are not finite numbers")
    elif task == "clustering" and predictions.dtype.kind not in "iu":
        raise ContractError(f"a clusterer must answer whole cluster numbers, not {predictions.dtype}")
    return result


def _check_classes(result: dict, classes: list | None, rows: int) -> None:
    known = result["classes"].tolist()
    if classes is not None and [str(c) for c in known] != [str(c) for c in classes]:
        raise ContractError(f"its classes {known} are not the recorded {classes}")
    strays = set(result["predictions"].tolist()) - set(known)
    if strays:
        raise ContractError(f"it predicted {sorted(map(str, strays))[:3]}, which are not among its classes")
    probabilities = result.get(PROBABILITIES)
    if probabilities is not None and probabilities.shape != (rows, len(known)):
        raise ContractError(f"its probabilities have shape {probabilities.shape}, not ({rows}, {len(known)})")


def trial_loaded(loaded) -> dict:
    """`trial` on probe rows for a model as the volume holds it (a LoadedModel): what serve tries before it serves."""
    metadata = loaded.metadata
    return trial(loaded.model, probe_frame(features_of(metadata)), metadata["task"], metadata.get("classes"))
