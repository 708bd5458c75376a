"""The protocols other servers speak, beside /predict: KServe V1 and the Open Inference Protocol V2 (REST).

`include_protocols` adds their routes to serve's app: the V2 server probes open, as /healthz is; the
model routes behind the API key when there is one (`guard`), as /predict is.
"""

from __future__ import annotations

from fastapi import FastAPI

from mlsteps.serve.protocols.kserve_v1 import v1
from mlsteps.serve.protocols.open_inference_v2 import v2_models, v2_probes


def include_protocols(app: FastAPI, guard: dict) -> None:
    app.include_router(v2_probes)
    app.include_router(v2_models, **guard)
    app.include_router(v1, **guard)
