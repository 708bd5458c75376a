"""Turn a validated request into model inputs and answers; plain functions the tests call directly."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, Field, Strict

from mlsteps.live_model import ServedModel

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]


class PredictRequest(BaseModel):
    """TF Serving / KServe v1 style: rows as lists of numbers, or as objects keyed by feature name."""

    instances: list[list[Number]] | list[dict[str, Number]] = Field(
        min_length=1,
        examples=[[[5.1, 3.5, 1.4, 0.2]], [{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5,
                                              "petal_length_cm": 1.4, "petal_width_cm": 0.2}]],
    )


class InputError(ValueError):
    """The request does not fit the live model; `errors` are FastAPI-style {loc, msg} items."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["msg"])
        self.errors = errors


def _error(index: int, message: str) -> InputError:
    return InputError([{"loc": ["body", "instances", index], "msg": message}])


def to_matrix(instances: list, feature_names: list[str], max_batch: int) -> np.ndarray:
    """Check every row against the model's features and stack them into a float matrix."""
    if len(instances) > max_batch:
        raise InputError([{"loc": ["body", "instances"],
                           "msg": f"{len(instances)} instances is more than the limit of {max_batch} per request"}])
    width = len(feature_names)
    if isinstance(instances[0], dict):
        expected = set(feature_names)
        rows = []
        for i, row in enumerate(instances):
            if row.keys() != expected:
                missing, unknown = sorted(expected - row.keys()), sorted(row.keys() - expected)
                parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                        ([f"unknown {', '.join(unknown)}"] if unknown else [])
                raise _error(i, f"{'; '.join(parts)}; expected the features {', '.join(feature_names)}")
            rows.append([row[name] for name in feature_names])
        return np.asarray(rows, dtype=float)
    for i, row in enumerate(instances):
        if len(row) != width:
            raise _error(i, f"has {len(row)} values; the model expects {width}: {', '.join(feature_names)}")
    return np.asarray(instances, dtype=float)


def predict(served: ServedModel, X: np.ndarray) -> dict:
    """Predictions, plus classes and per-class probabilities for a classifier."""
    engine = served.scorer or served.loaded.model  # the same answers; the scorer skips scikit-learn's checks
    answer: dict = {"model_version": served.version}
    if served.metadata["task"] == "classification":
        probabilities = engine.predict_proba(X)
        classes = served.loaded.model.classes_
        answer["predictions"] = classes[probabilities.argmax(axis=1)].tolist()
        answer["classes"] = classes.tolist()
        answer["probabilities"] = np.round(probabilities, 4).tolist()
    else:
        answer["predictions"] = np.round(engine.predict(X), 4).tolist()
    return answer
