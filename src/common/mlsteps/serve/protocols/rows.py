"""V2 input tensors as the rows serve's model takes: the same float matrix or typed DataFrame as /predict's.

Two shapes of request, as KServe's and MLServer's scikit-learn runtimes accept them: one tensor of shape
[rows, features] under any name (numbers, in feature order), or one tensor per feature, named after it,
of shape [rows] or [rows, 1] (numbers for a number column, BYTES for a text column; null or NaN where a
value is missing). Either way the rows then meet the checks /predict's rows meet (the batch limit, a
text column's values are text), and the model gets what `request_body.to_inputs` would give it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlsteps.model_contract import frame, is_all_numbers
from mlsteps.serve.protocols.tensors import BYTES, Tensor, TensorError
from mlsteps.table import TEXT


def _batch(rows: int, max_batch: int) -> None:
    if rows == 0:
        raise TensorError("the inputs hold no rows; send at least one")
    if rows > max_batch:
        raise TensorError(f"{rows} rows is more than the limit of {max_batch} per request (MLSTEPS_MAX_BATCH)")


def _finite_or_missing(values: np.ndarray, name: str) -> np.ndarray:
    """NaN is a missing value, as null is in /predict; an infinity is refused, as JSON cannot carry one."""
    if np.isinf(values).any():
        raise TensorError(f"input {name!r} holds an infinity; send finite numbers (NaN or null where missing)")
    return values


def _matrix(tensor: Tensor, features: list[dict], max_batch: int) -> np.ndarray:
    names = [feature["name"] for feature in features]
    if not is_all_numbers(features):
        raise TensorError(
            "this model has text columns: send one tensor per feature, named after it (BYTES for text): "
            + ", ".join(names)
        )
    if len(tensor.shape) != 2 or tensor.shape[1] != len(names):
        raise TensorError(
            f"input {tensor.name!r} has shape {list(tensor.shape)}; one tensor must have shape "
            f"[rows, {len(names)}], its columns {', '.join(names)}"
        )
    if tensor.datatype == BYTES:
        raise TensorError(f"input {tensor.name!r} is BYTES; this model's features are numbers")
    _batch(tensor.shape[0], max_batch)
    return _finite_or_missing(tensor.values, tensor.name).reshape(tensor.shape)


def _column(tensor: Tensor, feature: dict) -> np.ndarray | list:
    if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
        raise TensorError(f"input {tensor.name!r} has shape {list(tensor.shape)}; a feature's shape is [rows]")
    if feature["type"] == TEXT:
        if tensor.datatype != BYTES:
            raise TensorError(f"input {tensor.name!r} is a text column: send it as BYTES, not {tensor.datatype}")
        return tensor.values
    if tensor.datatype == BYTES:
        raise TensorError(f"input {tensor.name!r} is a number column: send it as FP64 (or another number type)")
    return _finite_or_missing(tensor.values, tensor.name)


def _by_feature(by_name: dict[str, Tensor], features: list[dict], max_batch: int) -> np.ndarray | pd.DataFrame:
    columns = [_column(by_name[feature["name"]], feature) for feature in features]
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise TensorError(f"the feature tensors have different numbers of rows: {sorted(lengths)}")
    _batch(lengths.pop(), max_batch)
    if is_all_numbers(features):
        return np.column_stack(columns) if len(columns) > 1 else columns[0].reshape(-1, 1)
    return frame(columns, features)


def model_inputs(tensors: list[Tensor], features: list[dict], max_batch: int) -> np.ndarray | pd.DataFrame:
    """The rows the model takes (a float matrix for an all-numbers model, else a typed DataFrame), or TensorError."""
    names = [feature["name"] for feature in features]
    by_name = {tensor.name: tensor for tensor in tensors}
    if len(by_name) != len(tensors):
        raise TensorError("two inputs have the same name")
    if set(by_name) == set(names) and (len(names) > 1 or len(tensors[0].shape) != 2 or tensors[0].shape[1] == 1):
        return _by_feature(by_name, features, max_batch)
    if len(tensors) == 1:
        return _matrix(tensors[0], features, max_batch)
    unknown = sorted(set(by_name) - set(names))
    missing = [name for name in names if name not in by_name]
    raise TensorError(
        "send one tensor [rows, features], or one tensor per feature; "
        + "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
    )
