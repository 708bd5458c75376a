"""The serve step's HTTP routes, grouped in one APIRouter; `serve.create_app` includes them.

Each route is thin: it reads what `create_app` put in `app.state` (the live model, the settings,
the metrics) and calls plain functions that tests can call directly.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import ValidationError

from mlsteps.serve import home_page
from mlsteps.serve.live_model import LiveModel
from mlsteps.serve.metrics import CONTENT_TYPE
from mlsteps.serve.prediction_log import request_id_of
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
from mlsteps.volume.store import Area

EXPECTED = (
    'a JSON body {"instances": [[value, ...], ...]} or {"instances": [{"feature": value, ...}, ...]}, '
    "each value a number or text as its column holds, or null where it is missing (GET /model lists the features)"
)

data = APIRouter()  # /predict, /model, /metrics: behind the API key when there is one (serve.create_app)
probes = APIRouter()  # /healthz, /readyz and the home page: always open


def not_ready(live: LiveModel, models: Area) -> JSONResponse:
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
            "detail": f"no model promoted yet in {models}; the train step publishes one",
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


def content_headers(request: Request) -> tuple[str, str]:
    """The request's Content-Type and Content-Length ("" when absent), from its raw headers in one pass.

    ASGI servers give header names in lower case; Starlette's `request.headers` would build a mapping first.
    """
    content_type = content_length = b""
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            content_length = value
    return content_type.decode("latin-1"), content_length.decode("latin-1")


async def read_limited(request: Request, limit: int, declared: str | None = None) -> bytes:
    """The body, or BodyTooLarge as soon as it is known to be over `limit`: memory stays bounded.

    `declared` is the Content-Length header ("" when the body comes in chunks), read here when not given.
    """
    if declared is None:
        declared = content_headers(request)[1]
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(int(declared), limit, declared=True)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, limit, declared=False)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
    content_type, content_length = content_headers(request)
    if not is_json(content_type):
        raise RequestValidationError([])  # explain_bad_input adds the missing header to the answer
    settings = request.app.state.settings
    body = await read_limited(request, settings.body_limit, content_length)
    if settings.speed_tricks:
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
        return logged(request, instances, predict(current, X))
    except InputError as error:
        return JSONResponse({"detail": error.errors, "expected": EXPECTED}, status_code=422)


def logged(request: Request, instances: list, answer: dict) -> FastJSONResponse:
    """The answer with its request_id (the client's X-Request-ID, else a new one), queued for the prediction log.

    One tuple appended to a deque: the JSON and the file are the log's writer thread's work (prediction_log.py).
    """
    request_id = request_id_of(request.scope)
    answer["request_id"] = request_id
    if request.app.state.prediction_log is not None:
        request.app.state.prediction_log.record(request_id, instances, answer["predictions"], answer["model_version"])
    return FastJSONResponse(answer, headers={"X-Request-ID": request_id})


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
