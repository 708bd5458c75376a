"""The live model's answers to a batch of rows: what the estimator's own contract says it answers.

Labels come from `predict` (model_contract.py says why); probabilities only from a classifier that
has `predict_proba`, distances only from a clusterer that has `transform`. Numbers in an answer stay
numpy arrays: the response encoder (orjson, see responses.py) writes them without a Python float
per value. A few rows on the linear fast path are Python floats instead, rounded the way numpy rounds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import sklearn

from mlsteps import model_contract
from mlsteps.serve.request_body import InputError
from mlsteps.serve.served_model import ServedModel

DECIMALS = 4  # answers are rounded: more digits would only show the arithmetic's noise
SCALE = 10.0**DECIMALS


def _finite(values: np.ndarray) -> np.ndarray:
    """`values` (one row per request row), or InputError naming the rows whose answer is not a finite number.

    Huge but finite inputs (1e308) overflow inside the model, and a model that cannot handle a
    missing value answers NaN; JSON has no infinity, so such rows get a 422 that says so, never a 500.
    """
    # The usual case, in one pass: a finite sum means finite values (a sum that overflows is looked at again).
    if math.isfinite(values.sum()) or np.isfinite(values).all():
        return values
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    rows = np.flatnonzero(bad)
    raise InputError(
        [
            {
                "loc": ["body", "instances", int(i)],
                "msg": "the model cannot score this row with finite numbers "
                "(are its values too large, or missing where the model needs them?)",
            }
            for i in rows[:10]
        ]
    )


def _fast(served: ServedModel, X: np.ndarray) -> dict:
    """The folded linear scorer's answers: the same labels and numbers as scikit-learn's (linear_scorer.py)."""
    scorer = served.scorer
    decision = _finite(scorer.decision(X))
    if served.task != "classification":
        return {"predictions": decision[:, 0].round(DECIMALS)}
    return {
        "predictions": served.labels[scorer.label_index(decision)].tolist(),
        "classes": served.classes,
        "probabilities": scorer.predict_proba(X, decision).round(DECIMALS),
    }


def _rounded(value: float) -> float:
    """`value` rounded as numpy's `round(DECIMALS)` does (x * 10^d, to the nearest even, / 10^d), sign of zero too."""
    whole = round(value * SCALE)
    return whole / SCALE if whole else math.copysign(0.0, value)


def _fast_in_python(served: ServedModel, rows: list[list[float]]) -> dict:
    """`_fast` for a few rows, in plain Python: the same numbers, without numpy's cost per call."""
    scorer = served.scorer
    decisions = scorer.decisions_in_python(rows)
    if not all(map(math.isfinite, itertools.chain.from_iterable(decisions))):
        _finite(np.array(decisions))  # raises the InputError naming the rows
    if served.task != "classification":
        return {"predictions": [_rounded(row[0]) for row in decisions]}
    labels = served.classes
    return {
        "predictions": [labels[i] for i in scorer.label_indexes_in_python(decisions)],
        "classes": labels,
        "probabilities": [list(map(_rounded, row)) for row in scorer.probabilities_in_python(decisions)],
    }


def _model(served: ServedModel, X: np.ndarray | pd.DataFrame) -> dict:
    model, task = served.loaded.model, served.task
    if isinstance(X, np.ndarray):
        X = model_contract.numbers_frame(X, served.features)
    try:
        raw = model_contract.answer(model, X, task, served.outputs)
    except (ValueError, TypeError) as error:  # the model refuses these values (a missing one, say): the request's
        raise InputError(
            [{"loc": ["body", "instances"], "msg": f"the model cannot score these rows ({error})"}]
        ) from None
    predictions = raw["predictions"]
    if task == "classification":
        answer = {"predictions": predictions.tolist(), "classes": served.classes}
        if model_contract.PROBABILITIES in raw:
            answer["probabilities"] = _finite(raw["probabilities"]).round(DECIMALS)
        return answer
    if task == "clustering":
        answer = {"predictions": predictions.astype(int)}
        if model_contract.DISTANCES in raw:
            answer["distances"] = _finite(raw["distances"]).round(DECIMALS)
        return answer
    return {"predictions": _finite(predictions).round(DECIMALS)}


def _model_trusting_finite(served: ServedModel, X: np.ndarray | pd.DataFrame) -> dict:
    """`_model`, with scikit-learn's finiteness checks off.

    The request's reading already refused infinity (and NaN only stands for a missing value); what is left
    is an overflow inside the model (1e308 scaled), which `_finite` answers with a 422 naming the rows.
    With the checks on, scikit-learn would raise it as an error (a 500) between two steps of a pipeline.
    The speed tricks turn the checks off for the whole process (speed_tricks/process.py); without them,
    this context does it (about 6 µs a request).
    """
    if sklearn.get_config()["assume_finite"]:
        return _model(served, X)
    with sklearn.config_context(assume_finite=True):
        return _model(served, X)


def predict(served: ServedModel, X: np.ndarray | pd.DataFrame) -> dict:
    """The model's answers to rows `X` (a float matrix for an all-numbers model, else a typed DataFrame)."""
    fast = served.scorer is not None and isinstance(X, np.ndarray)
    if fast and served.scorer.few_rows(len(X)):
        return {"model_version": served.version, **_fast_in_python(served, X.tolist())}
    with np.errstate(all="ignore"):  # overflow shows up as inf/nan, which _finite turns into a 422
        answer = _fast(served, X) if fast else _model_trusting_finite(served, X)  # _fast: numpy, no scikit-learn
    return {"model_version": served.version, **answer}
