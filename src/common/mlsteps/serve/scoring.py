"""The live model's answers to a matrix of rows: predictions, and classes and probabilities or distances.

Numbers in an answer stay numpy arrays: the response encoder (orjson, see responses.py) writes them
without a Python float per value.
"""

from __future__ import annotations

import numpy as np

from mlsteps.serve.request_body import InputError
from mlsteps.serve.served_model import ServedModel

DECIMALS = 4  # answers are rounded: more digits would only show the arithmetic's noise


def _finite(values: np.ndarray) -> np.ndarray:
    """`values` (one row per request row), or InputError naming the rows whose answer is not a finite number.

    Huge but finite inputs (1e308) overflow inside the model; JSON has no infinity, so such rows get
    a 422 that says so, never a 500.
    """
    if np.isfinite(values).all():  # the usual case, in one pass
        return values
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            [
                {
                    "loc": ["body", "instances", int(i)],
                    "msg": "the model cannot score this row with finite numbers (are its values too large?)",
                }
                for i in rows[:10]
            ]
        )
    return values


def predict(served: ServedModel, X: np.ndarray) -> dict:
    """Predictions, plus classes and probabilities (classifier) or distances to the centre (clustering)."""
    engine = served.scorer or served.loaded.model  # the same answers; the scorer skips scikit-learn's checks
    task = served.metadata["task"]
    answer: dict = {"model_version": served.version}
    with np.errstate(all="ignore"):  # overflow shows up as inf/nan, which _finite turns into a 422
        if task == "classification":
            probabilities = _finite(engine.predict_proba(X))
            labels = served.labels
            answer["predictions"] = labels[probabilities.argmax(axis=1)].tolist()  # labels: text, not numbers
            answer["classes"] = labels.tolist()
            answer["probabilities"] = probabilities.round(DECIMALS)
        elif task == "clustering":
            answer["predictions"] = engine.predict(X).astype(int)
            if hasattr(engine, "transform"):  # K-means: each row's distance to every centre
                answer["distances"] = _finite(engine.transform(X).min(axis=1)).round(DECIMALS)
        else:
            answer["predictions"] = _finite(engine.predict(X).astype(float)).round(DECIMALS)
    return answer
