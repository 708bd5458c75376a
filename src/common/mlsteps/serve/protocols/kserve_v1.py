"""KServe's V1 protocol (TensorFlow Serving's REST API): a model's readiness, and predict on `instances`.

`POST /v1/models/{name}:predict` takes the `{"instances": [...]}` /predict takes and answers
`{"predictions": [...]}`, as KServe's scikit-learn server answers by default (labels, values or
clusters from `predict`). The rows meet /predict's checks; errors are KServe's `{"error": "..."}`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from mlsteps.serve.protocols import schemas
from mlsteps.serve.protocols.open_inference_v2 import error, explain
from mlsteps.serve.request_body import InputError, PredictRequest, to_inputs
from mlsteps.serve.responses import FastJSONResponse
from mlsteps.serve.routes import BodyTooLarge, read_limited
from mlsteps.serve.scoring import predict as answers_of

v1 = APIRouter(tags=["KServe V1"])


def unknown_or_missing(request: Request, name: str) -> JSONResponse | None:
    settings, current = request.app.state.settings, request.app.state.live.current
    if name != settings.model_name:
        return error(f"unknown model {name!r}; this server serves {settings.model_name!r}", 404)
    if current is None:
        return error(f"model {name!r} is not ready: no model is loaded yet (GET /readyz says why)", 503)
    return None


@v1.get(
    "/v1/models/{name}",
    response_model=schemas.ModelReady,
    responses={**schemas.UNKNOWN, **schemas.NO_MODEL},
)
async def v1_model_ready(request: Request, name: str) -> Response:
    """The model's name and whether it is ready to answer."""
    return unknown_or_missing(request, name) or JSONResponse({"name": name, "ready": True})


@v1.post(
    "/v1/models/{name}:predict",
    response_model=schemas.V1Predictions,
    responses={
        **schemas.BAD_REQUEST,
        413: schemas.error("The body is larger than MLSTEPS_MAX_BODY_BYTES"),
        **schemas.UNKNOWN,
        **schemas.NO_MODEL,
    },
    openapi_extra=schemas.body(PredictRequest),
)
async def v1_predict(request: Request, name: str) -> Response:
    """The model's predictions for `instances`: one per row, as /predict's `predictions`."""
    refused = unknown_or_missing(request, name)
    if refused:
        return refused
    current, settings = request.app.state.live.current, request.app.state.settings
    try:
        instances = PredictRequest.model_validate_json(await read_limited(request, settings.body_limit)).instances
        answer = answers_of(current, to_inputs(instances, current.features, settings.max_batch))
    except ValidationError as problem:
        first = problem.errors()[0]
        where = ".".join(map(str, first["loc"]))
        return error(f'the body must be {{"instances": [rows]}}; {where}: {first["msg"]}', 400)
    except InputError as problem:
        return error(explain(problem), 400)
    except BodyTooLarge as problem:
        return error(str(problem), 413)
    return FastJSONResponse({"predictions": answer["predictions"]})
