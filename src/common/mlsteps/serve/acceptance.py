"""Whether a loaded model may go live: a pickle that loads is not yet a model that can answer."""

from __future__ import annotations

import numpy as np

from mlsteps import model_contract
from mlsteps.serve.scoring import predict
from mlsteps.serve.served_model import ServedModel


def trial(served: ServedModel) -> None:
    """Raise ValueError unless `served` answers probe rows as its contract and its metadata promise.

    The same trial (model_contract.trial) that train ran on its holdout before publishing, then the
    same rows through serve's own path (the fast scorer too, when there is one).
    """
    model_contract.trial_loaded(served.loaded)
    probes = model_contract.probe_frame(served.features)
    recorded = served.metadata.get("outputs")
    if recorded is not None and recorded != served.outputs:
        raise ValueError(f"it answers {served.outputs}, and its metadata promises {recorded}")
    rows = probes.to_numpy(dtype=float) if model_contract.is_all_numbers(served.features) else probes
    answer = predict(served, rows)
    if len(answer["predictions"]) != len(probes):
        raise ValueError(f"it answered {len(answer['predictions'])} predictions for {len(probes)} probe rows")
    if served.task == "regression" and np.asarray(answer["predictions"]).dtype.kind != "f":
        raise ValueError("a regression model must answer numbers")
