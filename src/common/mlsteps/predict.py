"""Turn a validated request into model inputs and answers; plain functions the tests call directly.

Numbers in an answer stay numpy arrays: the response encoder (orjson, see routes.py) writes them
without a Python float per value.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Annotated

import numpy as np
import orjson
from pydantic import BaseModel, Field, Strict

if TYPE_CHECKING:
    from mlsteps.live_model import ServedModel

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Rows = Annotated[list[Annotated[list[Number], Field(min_length=1)]], Field(min_length=1)]
NamedRows = Annotated[list[dict[str, Number]], Field(min_length=1)]
DECIMALS = 4  # answers are rounded: more digits would only show the arithmetic's noise


class PredictRequest(BaseModel):
    """TF Serving / KServe v1 style: rows as lists of numbers, or as objects keyed by feature name."""

    instances: Rows | NamedRows = Field(
        examples=[
            [[5.1, 3.5, 1.4, 0.2]],
            [{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}],
        ],
    )


PLAIN_NUMBERS = frozenset({float, int})  # what orjson reads JSON numbers as (true and false are bool)


def plain_rows(body: bytes) -> list[list[float]] | None:
    """The instances when the body is plainly valid rows of numbers; None for anything else.

    pydantic's validation from JSON (`PredictRequest.model_validate_json`) defines a valid body and
    explains every mistake, but it checks one value at a time. Most bodies are plain lists of numbers,
    which orjson reads and three passes in C confirm about 1.3 times faster, from 1 to 10,000 rows
    (1,000 rows: 460 µs against 610 µs, best of 40 interleaved timeit runs; about a tenth of a 1,000-row
    request in benchmarks/bench_serve.py). Anything else (named rows, a mistake, NaN, a number too large
    for a float) gets None, and then pydantic's verdict; tests/test_speed_tricks.py checks the two agree.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    rows = document.get("instances") if type(document) is dict else None
    if type(rows) is not list or not rows or set(map(type, rows)) != {list} or 0 in map(len, rows):
        return None
    if not set(map(type, itertools.chain.from_iterable(rows))) <= PLAIN_NUMBERS:
        return None
    return rows


class InputError(ValueError):
    """The request does not fit the live model; `errors` are FastAPI-style {loc, msg} items."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["msg"])
        self.errors = errors


def _error(index: int, message: str) -> InputError:
    return InputError([{"loc": ["body", "instances", index], "msg": message}])


def _named_rows(instances: list[dict], feature_names: list[str]) -> list[list[float]]:
    expected = set(feature_names)
    rows = []
    for i, row in enumerate(instances):
        if row.keys() != expected:
            missing, unknown = sorted(expected - row.keys()), sorted(row.keys() - expected)
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else []
            )
            raise _error(i, f"{'; '.join(parts)}; expected the features {', '.join(feature_names)}")
        rows.append([row[name] for name in feature_names])
    return rows


def _stack(rows: list[list[float]], width: int) -> np.ndarray:
    """Rows of `width` numbers as one float matrix.

    np.fromiter over the flattened values, not np.asarray(rows): numpy then need not discover the
    nesting and the shape of the lists first. For a 1,000-row request of 4 features that is about
    130 µs instead of about 390 µs (benchmarks/bench_serve.py, batches).
    """
    values = np.fromiter(itertools.chain.from_iterable(rows), dtype=float, count=len(rows) * width)
    return values.reshape(len(rows), width)


def to_matrix(instances: list, feature_names: list[str], max_batch: int) -> np.ndarray:
    """Check every row against the model's features and stack them into a float matrix."""
    if len(instances) > max_batch:
        raise InputError(
            [
                {
                    "loc": ["body", "instances"],
                    "msg": f"{len(instances)} instances is more than the limit of {max_batch} per request",
                }
            ]
        )
    width = len(feature_names)
    if isinstance(instances[0], dict):
        return _stack(_named_rows(instances, feature_names), width)
    if set(map(len, instances)) != {width}:  # one pass in C; the loop below only finds the row to name
        for i, row in enumerate(instances):
            if len(row) != width:
                raise _error(i, f"has {len(row)} values; the model expects {width}: {', '.join(feature_names)}")
    return _stack(instances, width)


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


def trial(served: ServedModel) -> None:
    """Raise ValueError unless `served` answers probe rows with the shape and kind its metadata promises.

    Run before a model goes live: a pickle that loads is not yet a model that can answer.
    """
    names = served.metadata["feature_names"]
    probes = np.vstack([np.zeros(len(names)), np.ones(len(names))])
    answer = predict(served, probes)
    predictions = np.asarray(answer["predictions"])
    if predictions.shape != (len(probes),):
        raise ValueError(f"it answered {predictions.shape} predictions for {len(probes)} probe rows")
    task = served.metadata["task"]
    if task == "classification" and [str(c) for c in answer["classes"]] != served.metadata["classes"]:
        raise ValueError(f"its classes {list(answer['classes'])} are not the recorded {served.metadata['classes']}")
    if task == "regression" and predictions.dtype.kind != "f":
        raise ValueError("a regression model must answer numbers")
