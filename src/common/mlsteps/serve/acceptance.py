"""Whether a loaded model may go live: a pickle that loads is not yet a model that can answer."""

from __future__ import annotations

import numpy as np

from mlsteps.serve.scoring import predict
from mlsteps.serve.served_model import ServedModel


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
