"""A fitted pipeline exported to ONNX, answering as the estimator it came from: one module for train and serve.

Train exports the pipeline with skl2onnx and checks on its holdout that this model answers what
scikit-learn answers (train/onnx_export.py); serve, with MLSTEPS_RUNTIME=onnx, answers through it and never
unpickles anything: an ONNX file is a graph of operators, data rather than code, so reading one cannot
run code the way unpickling can, and any ONNX runtime in any language can load it.

`OnnxModel` has the estimator methods model_contract.answer calls (predict, predict_proba, transform, and
classes_), so the contract, the trial and serve's scoring take it as they take a scikit-learn pipeline.
Its inputs follow the table: one float32 matrix "X" when every feature is a number, else one [rows, 1]
tensor per feature, named after it (float32 numbers, text as strings). float32, because skl2onnx's
imputer and tree operators only take float32 (its documentation says to feed trees float32).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlsteps.model_contract import DISTANCES, PROBABILITIES, is_all_numbers
from mlsteps.table import TEXT

ONNX_FILE = "model.onnx"
MATRIX_INPUT = "X"
MISSING_TEXT = "nan"  # skl2onnx writes a text column's missing-value category (NaN) as this string


def feeds(X: pd.DataFrame | np.ndarray, features: list[dict]) -> dict[str, np.ndarray]:
    """The ONNX inputs for rows `X` (a DataFrame as the pipeline was fitted on, or a float matrix)."""
    if is_all_numbers(features):
        matrix = X.to_numpy(dtype=np.float32) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float32)
        return {MATRIX_INPUT: matrix}
    inputs = {}
    for feature in features:
        column = X[feature["name"]]
        if feature["type"] == TEXT:
            values = column.astype(object).to_numpy()
            inputs[feature["name"]] = np.where(pd.isna(values), MISSING_TEXT, values).astype(object).reshape(-1, 1)
        else:
            inputs[feature["name"]] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
    return inputs


class OnnxModel:
    """An ONNX Runtime session behind the estimator methods serve and the contract call."""

    def __init__(self, blob: bytes, features: list[dict], classes: list | None = None):
        import onnxruntime  # only where ONNX is used: the other steps and the sklearn runtime never load it

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one request's rows on one core, as scikit-learn answers them
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
        self.features = features
        self.output_names = [output.name for output in self.session.get_outputs()]
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def _run(self, X, index: int) -> np.ndarray:
        return self.session.run([self.output_names[index]], feeds(X, self.features))[0]

    def predict(self, X) -> np.ndarray:
        labels = self._run(X, 0)
        return labels.reshape(-1) if labels.ndim > 1 else labels


class OnnxClassifier(OnnxModel):
    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(self._run(X, 1), dtype=float)


class OnnxClusterer(OnnxModel):
    def transform(self, X) -> np.ndarray:
        return np.asarray(self._run(X, 1), dtype=float)


def onnx_model(blob: bytes, metadata: dict, features: list[dict]) -> OnnxModel:
    """The ONNX model with the methods its metadata's outputs promise (predict_proba only where it had it)."""
    outputs, classes = metadata.get("outputs", []), metadata.get("classes")
    if PROBABILITIES in outputs:
        return OnnxClassifier(blob, features, classes)
    if DISTANCES in outputs:
        return OnnxClusterer(blob, features)
    return OnnxModel(blob, features, classes)
