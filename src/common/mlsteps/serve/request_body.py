"""What /predict accepts: the request's schema, and its rows checked against the model and stacked into a matrix.

pydantic's `PredictRequest` defines a valid body (and /docs shows it); `to_matrix` then checks each row
against the live model's features. Plain functions: the tests call them directly.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import numpy as np
from pydantic import BaseModel, Field, Strict

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Rows = Annotated[list[Annotated[list[Number], Field(min_length=1)]], Field(min_length=1)]
NamedRows = Annotated[list[dict[str, Number]], Field(min_length=1)]


class PredictRequest(BaseModel):
    """TF Serving / KServe v1 style: rows as lists of numbers, or as objects keyed by feature name."""

    instances: Rows | NamedRows = Field(
        examples=[
            [[5.1, 3.5, 1.4, 0.2]],
            [{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}],
        ],
    )


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
