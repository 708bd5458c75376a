"""The serve step's HTTP routes, grouped in one APIRouter; `serve.create_app` includes them.

Each route is thin: it reads what `create_app` put in `app.state` (the live model, the settings,
the metrics) and calls plain functions that tests can call directly.
"""

from __future__ import annotations

from pathlib import Path

import sklearn
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from mlsteps.serve import home_page
from mlsteps.serve.live_model import LiveModel
from mlsteps.serve.metrics import CONTENT_TYPE
from mlsteps.serve.request_body import InputError, PredictRequest, to_inputs
from mlsteps.serve.responses import (
    NOT_READY,
    PREDICT,
    Alive,
    FastJSONResponse,
    ModelMetadata,
    Ready,
)
from mlsteps.serve.scoring import predict
from mlsteps.serve.speed_tricks.plain_rows import plain_rows

EXPECTED = (
    'a JSON body {"instances": [[value, ...], ...]} or {"instances": [{"feature": value, ...}, ...]}, '
    "each value a number or text as its column holds, or null where it is missing (GET /model lists the features)"
)

data = APIRouter()  # /predict, /model, /metrics: behind the API key when there is one (serve.create_app)
probes = APIRouter()  # /healthz, /readyz and the home page: always open


def not_ready(live: LiveModel, models_dir: Path) -> JSONResponse:
    """503, saying why no model answers: none promoted yet, or the promoted one was refused."""
    if live.refused:
        return JSONResponse(
            {
                "status": "model refused",
                "detail": f"the promoted model was refused: {live.refused}; "
                "the train step must publish one this server can load",
            },
            status_code=503,
        )
    return JSONResponse(
        {
            "status": "waiting for a model",
            "detail": f"no model promoted yet in {models_dir}; the train step publishes one",
        },
        status_code=503,
    )


class BodyTooLarge(Exception):
    """A /predict body over the limit: answered 413 before (Content-Length) or while (chunked) it is read."""

    def __init__(self, size: int, limit: int, declared: bool):
        super().__init__(
            f"the body is {'declared as ' if declared else 'more than '}{size} bytes, over the limit of "
            f"{limit} (MLSTEPS_MAX_BODY_BYTES); send fewer rows per request"
        )


async def refuse_large_body(request: Request, error: BodyTooLarge) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=413)


def is_json(content_type: str) -> bool:
    """True for application/json, with or without parameters (charset), and for application/<name>+json."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or BodyTooLarge as soon as it is known to be over `limit`: memory stays bounded."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit, declared=True)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, limit, declared=False)
        chunks.append(chunk)
    return b"".join(chunks)


async def explain_bad_input(request: Request, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, plus what a valid body looks like and, when it is missing, the Content-Type header."""
    errors = [{"loc": e["loc"], "msg": e["msg"]} for e in error.errors()]
    if not is_json(request.headers.get("content-type", "")):
        errors.insert(
            0,
            {
                "loc": ["header", "content-type"],
                "msg": "send the header 'Content-Type: application/json' with a JSON body",
            },
        )
    return JSONResponse({"detail": jsonable_encoder(errors), "expected": EXPECTED}, status_code=422)


async def read_instances(request: Request) -> list:
    """The rows of /predict's body (a PredictRequest); a body that is not valid gets FastAPI's own 422.

    FastAPI's usual way is a typed body parameter (`body: PredictRequest`). serve reads the body here
    instead, for speed twice over: PredictShortcut (speed_tricks/predict_shortcut.py) can answer a route
    without a body parameter without FastAPI's router; and a typed body had FastAPI parse the JSON with the
    standard library and the Content-Type header with the email package before pydantic saw it (in
    process, bare endpoint 269 µs, this 360 µs, a typed body 396 µs per one-row request; the runs are
    in docs/benchmarks.md). With the speed tricks on, plain rows of numbers are read by
    `speed_tricks.plain_rows`; pydantic validates everything else straight from the JSON bytes. /docs
    still shows the body: see PREDICT_BODY.
    """
    if not is_json(request.headers.get("content-type", "")):
        raise RequestValidationError([])  # explain_bad_input adds the missing header to the answer
    body = await read_limited(request, request.app.state.settings.body_limit)
    if request.app.state.settings.speed_tricks:
        rows = plain_rows(body)  # the common case, faster; pydantic judges and explains everything else
        if rows is not None:
            return rows
    try:
        return PredictRequest.model_validate_json(body).instances
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


PREDICT_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": PredictRequest.model_json_schema()}}}
}  # what /docs shows for the body read_instances reads


# /predict first: FastAPI matches a request against the routes in order, and this one is the hot path (POST
# requests skip the router altogether through PredictShortcut; other methods still match here).
@data.post(
    "/predict",
    tags=["model"],
    openapi_extra=PREDICT_BODY,
    response_class=FastJSONResponse,
    responses=PREDICT,
)
async def predict_route(request: Request) -> Response:
    """Predict one row or a batch with the live model."""
    instances = await read_instances(request)
    live, settings = request.app.state.live, request.app.state.settings
    current = live.current  # read once: a swap during this request cannot mix two models
    if current is None:
        return not_ready(live, live.models)
    try:
        X = to_inputs(instances, current.features, settings.max_batch)
        return FastJSONResponse(score(current, X))
    except InputError as error:
        return JSONResponse({"detail": error.errors, "expected": EXPECTED}, status_code=422)


def score(current, X):
    """The model's answers, with scikit-learn's finiteness checks off, on both paths.

    read_instances already refused NaN and infinity; what is left is an overflow inside the model (1e308
    scaled), which scoring.predict answers with a 422 naming the rows. With the checks on, scikit-learn would
    raise it as an error (a 500) between two steps of a pipeline. The speed tricks turn the checks off for the
    whole process (speed_tricks/process.py); without them, this context does it (about 6 µs a request).
    """
    if sklearn.get_config()["assume_finite"]:
        return predict(current, X)
    with sklearn.config_context(assume_finite=True):
        return predict(current, X)


@probes.get("/healthz", tags=["health"], response_model=Alive)
async def healthz():
    """Liveness: the process answers."""
    return {"status": "ok"}


@probes.get("/readyz", tags=["health"], response_model=Ready, responses=NOT_READY)
async def readyz(request: Request):
    """Readiness: 200 once a model is loaded; 503 before, saying why."""
    live = request.app.state.live
    if live.current is None:
        return not_ready(live, live.models)
    return {"status": "ready", "model_version": live.current.version}


@data.get("/model", tags=["model"], response_model=ModelMetadata, responses=NOT_READY)
async def model_info(request: Request):
    """The live model's metadata: version, metrics, features, tuning, the snapshot it was trained on."""
    live = request.app.state.live
    current = live.current
    return FastJSONResponse(current.metadata) if current else not_ready(live, live.models)


@data.get(
    "/metrics",
    response_class=PlainTextResponse,
    tags=["health"],
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}, "description": "Prometheus text format"}
    },
)
async def metrics_route(request: Request):
    """Prometheus text format: requests, latency, model version, reloads, refusals."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


@probes.get("/", response_class=HTMLResponse, include_in_schema=False)
async def home(request: Request):
    api_key = request.app.state.api_key is not None
    return home_page.render(request.app.state.live, reachable_base_url(request), api_key)


def reachable_base_url(request: Request) -> str:
    """The address the reader used to reach this page, from its Host header.

    Not the bind address: in a container that is 0.0.0.0, which no reader can send a request to.
    Without a Host header (HTTP/1.0), the address this connection arrived at.
    """
    return str(request.base_url).rstrip("/")
