"""The protocols other servers speak, beside /predict: KServe V1 and the Open Inference Protocol V2 (REST).

`include_protocols` adds their routes to serve's app: the V2 server probes open, as /healthz is; the
model routes behind the API key when there is one (`guard`), as /predict is. A path under /v1/ or /v2/
that no route matches is answered with the protocols' error object too, not FastAPI's `{"detail"}`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mlsteps.serve.protocols.kserve_v1 import v1
from mlsteps.serve.protocols.open_inference_v2 import v2_models, v2_probes

PREFIXES = ("/v1/", "/v2/")


async def not_found(request: Request, error: HTTPException):
    if request.url.path.startswith(PREFIXES):
        return JSONResponse({"error": f"no such path: {request.url.path}"}, status_code=404)
    return await http_exception_handler(request, error)


def include_protocols(app: FastAPI, guard: dict) -> None:
    app.include_router(v2_probes)
    app.include_router(v2_models, **guard)
    app.include_router(v1, **guard)
    app.add_exception_handler(404, not_found)
