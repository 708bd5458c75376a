"""What /predict accepts: the request's schema, and its rows checked against the model's columns.

pydantic's `PredictRequest` defines a valid body (and /docs shows it): rows as lists in feature
order, or as objects keyed by feature name, holding numbers, text and null (a missing value).
`to_inputs` then checks each row against the live model's features (a number column takes a number
or null, a text column text or null) and gives the model its input: a float matrix when every
feature is a number (the commonest case, kept fast), else a DataFrame typed like the training table.
Plain functions: the tests call them directly.
"""

from __future__ import annotations

import itertools
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, Strict

from mlsteps.model_contract import frame, is_all_numbers
from mlsteps.serve.speed_tricks.plain_rows import PLAIN_NUMBERS, PlainRows
from mlsteps.table import TEXT

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Value = Number | str | None  # a number, text (a category), or null: the value is missing
Rows = Annotated[list[Annotated[list[Value], Field(min_length=1)]], Field(min_length=1)]
NamedRows = Annotated[list[dict[str, Value]], Field(min_length=1)]


class PredictRequest(BaseModel):
    """TF Serving / KServe v1 style: rows as lists of values in feature order, or as objects keyed by feature name."""

    instances: Rows | NamedRows = Field(
        examples=[
            [[5.1, 3.5, 1.4, 0.2]],
            [{"island": "Biscoe", "bill_length_mm": 45.1, "sex": None}],
        ],
    )


class InputError(ValueError):
    """The request does not fit the live model; `errors` are FastAPI-style {loc, msg} items."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["msg"])
        self.errors = errors


def _error(index: int, message: str, column: str | None = None) -> InputError:
    loc = ["body", "instances", index] + ([column] if column is not None else [])
    return InputError([{"loc": loc, "msg": message}])


def _named_rows(instances: list[dict], feature_names: list[str]) -> list[list]:
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


def _column(rows: list[list], j: int, feature: dict) -> list:
    """Column `j` of the rows, each value checked against the feature's kind; null stays None."""
    values = [row[j] for row in rows]
    text = feature["type"] == TEXT
    for i, value in enumerate(values):
        if not (value is None or (type(value) is str if text else type(value) in PLAIN_NUMBERS)):
            wanted = "text or null" if text else "a number or null"
            raise _error(i, f"column {feature['name']!r} expects {wanted}, got {value!r}", feature["name"])
    return values


def to_inputs(instances: list, features: list[dict], max_batch: int) -> np.ndarray | pd.DataFrame:
    """Check every row against the model's features: a float matrix (all numbers), else a typed DataFrame."""
    if len(instances) > max_batch:
        raise InputError(
            [
                {
                    "loc": ["body", "instances"],
                    "msg": f"{len(instances)} instances is more than the limit of {max_batch} per request",
                }
            ]
        )
    names = [feature["name"] for feature in features]
    width = len(names)
    if isinstance(instances[0], dict):
        rows = _named_rows(instances, names)
    else:
        rows = instances
        if set(map(len, rows)) != {width}:  # one pass in C; the loop below only finds the row to name
            for i, row in enumerate(rows):
                if len(row) != width:
                    raise _error(i, f"has {len(row)} values; the model expects {width}: {', '.join(names)}")
    if is_all_numbers(features):
        if type(instances) is PlainRows or set(map(type, itertools.chain.from_iterable(rows))) <= PLAIN_NUMBERS:
            return _stack(rows, width)
        columns = [_column(rows, j, feature) for j, feature in enumerate(features)]  # names a wrong value's column
        return np.array([[np.nan if v is None else v for v in column] for column in columns], dtype=float).T
    return frame([_column(rows, j, feature) for j, feature in enumerate(features)], features)


def row_schemas(features: list[dict]) -> dict[str, dict]:
    """JSON schemas of one row for the live model: an object keyed by feature name, or a list in feature order."""
    values = {}
    for feature in features:
        if feature["type"] == TEXT:
            known = feature.get("categories", [])
            values[feature["name"]] = {
                "type": ["string", "null"],
                "description": f"text; seen in training: {', '.join(known[:20])}{', ...' if len(known) > 20 else ''}",
            }
        else:
            values[feature["name"]] = {"type": ["number", "null"], "description": "a number"}
    names = list(values)
    return {
        "Row": {
            "type": "object",
            "properties": values,
            "required": names,
            "additionalProperties": False,
            "description": "One row of the live model's features; null where a value is missing.",
        },
        "RowInFeatureOrder": {
            "type": "array",
            "prefixItems": list(values.values()),
            "minItems": len(names),
            "maxItems": len(names),
            "description": f"One row as a list, in feature order: {', '.join(names)}.",
        },
    }


def openapi_with_features(app):
    """app.openapi, plus the live model's features in /predict's body; made again when another model goes live."""
    base = app.openapi

    def openapi() -> dict:
        current = app.state.live.current
        version = None if current is None else current.version
        if app.openapi_schema is None or getattr(app.state, "openapi_model_version", None) != version:
            app.openapi_schema = None
            document = base()
            if current is not None:
                document["components"]["schemas"].update(row_schemas(current.features))
                rows = [{"$ref": "#/components/schemas/Row"}, {"$ref": "#/components/schemas/RowInFeatureOrder"}]
                body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
                body["schema"] = {
                    "type": "object",
                    "required": ["instances"],
                    "properties": {"instances": {"type": "array", "minItems": 1, "items": {"anyOf": rows}}},
                }
            app.state.openapi_model_version = version
        return app.openapi_schema

    return openapi
