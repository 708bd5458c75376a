"""Export the fitted pipeline to ONNX (skl2onnx), kept only if ONNX Runtime answers the holdout as scikit-learn does.

The file lets a learner take the model anywhere ONNX Runtime runs (another language, a phone, a browser),
and lets serve answer without unpickling (MLSTEPS_RUNTIME=onnx). skl2onnx does not convert every
estimator, and a converted one computes in float32: a tree's split on a value that float32 rounds to the
other side gives another answer. So the export is checked on the holdout rows: the same labels (or
clusters), probabilities, values and distances within TOLERANCE. What fails gives no file, and the
metadata's `onnx.why` says why; train never fails because of it.
"""

from __future__ import annotations

import logging

import numpy as np

from mlsteps import model_contract
from mlsteps.onnx_model import MATRIX_INPUT, ONNX_FILE, onnx_model
from mlsteps.table import TEXT

log = logging.getLogger("mlsteps.train")

TOLERANCE = 1e-5  # probabilities, values and distances: absolute, and relative for large values
OPSET = {"": 21, "ai.onnx.ml": 3}  # what onnxruntime 1.31 runs; pinned so a file made here loads elsewhere


def convert(pipeline, features: list[dict], task: str) -> bytes:
    """The pipeline as ONNX bytes; whatever skl2onnx raises when it cannot."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if model_contract.is_all_numbers(features):
        inputs = [(MATRIX_INPUT, FloatTensorType([None, len(features)]))]
    else:
        inputs = [
            (f["name"], StringTensorType([None, 1]) if f["type"] == TEXT else FloatTensorType([None, 1]))
            for f in features
        ]
    last = pipeline.steps[-1][1] if hasattr(pipeline, "steps") else pipeline
    options = {id(last): {"zipmap": False}} if task == "classification" else None  # probabilities as a tensor
    return to_onnx(pipeline, initial_types=inputs, options=options, target_opset=OPSET).SerializeToString()


def difference(expected: dict, got: dict) -> str | None:
    """How the ONNX answers differ from scikit-learn's, in words; None when they agree."""
    labels, onnx_labels = expected["predictions"], got["predictions"]
    if labels.dtype.kind == "f":
        if not np.allclose(onnx_labels, labels, rtol=TOLERANCE, atol=TOLERANCE):
            return f"its values differ by up to {np.max(np.abs(onnx_labels - labels)):.3g}"
    elif [str(v) for v in onnx_labels.tolist()] != [str(v) for v in labels.tolist()]:
        wrong = sum(str(a) != str(b) for a, b in zip(onnx_labels.tolist(), labels.tolist(), strict=True))
        return f"it answers another label for {wrong} of {len(labels)} rows"
    for name in (model_contract.PROBABILITIES, model_contract.DISTANCES):
        if name in expected and not np.allclose(got[name], expected[name], rtol=TOLERANCE, atol=TOLERANCE):
            return f"its {name} differ by up to {np.max(np.abs(got[name] - expected[name])):.3g}"
    return None


def export(pipeline, X_holdout, task: str, features: list[dict], metadata: dict) -> tuple[bytes | None, dict]:
    """(the ONNX file's bytes or None, the metadata's `onnx` record: whether it was exported, and why not)."""
    try:
        blob = convert(pipeline, features, task)
        model = onnx_model(blob, metadata, features)
        outputs = metadata["outputs"]
        expected = model_contract.answer(pipeline, X_holdout, task, outputs)
        got = model_contract.answer(model, X_holdout, task, outputs)
    except Exception as error:  # skl2onnx and onnxruntime raise many kinds: all mean no ONNX file
        why = f"skl2onnx cannot convert it ({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        log.info("no ONNX export: %s", why)
        return None, {"exported": False, "why": why}
    problem = difference(expected, got)
    if problem is not None:
        why = f"on the {len(X_holdout)} holdout rows ONNX Runtime disagrees with scikit-learn: {problem}"
        log.info("no ONNX export: %s (tolerance %g)", why, TOLERANCE)
        return None, {"exported": False, "why": why}
    return blob, {"exported": True, "file": ONNX_FILE, "input": "float32", "checked_rows": len(X_holdout)}


def export_files(model, X_holdout, task: str, features: list[dict], outputs: list[str], classes) -> tuple[dict, dict]:
    """(the files to publish beside the pickle, the metadata's `onnx` record), for train and import-model alike."""
    blob, record = export(model, X_holdout, task, features, {"outputs": outputs, "classes": classes})
    return ({ONNX_FILE: blob} if blob else {}), record
