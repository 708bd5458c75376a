"""The serve step: a FastAPI app answering predictions from the newest promoted model."""

from __future__ import annotations

import asyncio
import html
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import ValidationError

from mlsteps import __version__
from mlsteps.config import Settings
from mlsteps.live_model import LiveModel
from mlsteps.metrics import Metrics, MetricsMiddleware
from mlsteps.predict import InputError, PredictRequest, predict, to_matrix

log = logging.getLogger("mlsteps.serve")
PREDICT_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": PredictRequest.model_json_schema()}}}}  # what /docs shows for the body parsed by hand
EXPECTED = 'a JSON body {"instances": [[number, ...], ...]} or {"instances": [{"feature": number, ...}, ...]}'


def _no_model(settings: Settings) -> JSONResponse:
    return JSONResponse({"status": "waiting for a model",
                         "detail": f"no model promoted yet in {settings.models_dir}; the train step publishes one"},
                        status_code=503)


def tune_process_for_serving() -> None:
    """Process-wide settings that make serving faster; called by `run_server` only, never by train.

    Each won a measurable share of a one-row /predict in benchmarks/bench_level1.py.
    """
    import gc

    import sklearn
    from threadpoolctl import threadpool_limits

    # The request validation already refused NaN and infinity: scikit-learn need not look again.
    sklearn.set_config(assume_finite=True)
    # One request at a time runs on the event loop, and its matrices are small: BLAS worker
    # threads would only spin and take CPU from the server itself.
    threadpool_limits(limits=1)
    gc.freeze()  # the ~10^5 objects imported so far live as long as the process: GC skips them


def run_server(settings: Settings) -> None:
    """The serve step: tune this process, then answer HTTP until stopped (uvicorn)."""
    import uvicorn

    app = create_app(settings)
    tune_process_for_serving()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=settings.access_log)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the model is loaded in the lifespan and polled for changes, never per request."""
    live = LiveModel(settings.models_dir)

    async def watch_pointer():
        while True:
            await asyncio.sleep(settings.reload_seconds)
            try:
                await asyncio.to_thread(live.refresh)
            except Exception:  # keep watching whatever happened to one reload
                log.exception("model reload failed; still serving the previous model")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        live.refresh()
        if live.current is None:
            log.info("no model yet in %s: /readyz answers 503 until train publishes one", settings.models_dir)
        watcher = asyncio.create_task(watch_pointer())
        yield
        watcher.cancel()

    app = FastAPI(title="mlsteps", version=__version__, lifespan=lifespan,
                  description="Predictions from the newest promoted scikit-learn model on the shared volume.")
    app.state.live = live
    metrics = Metrics(routes=set())  # filled in below, once every route exists
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def explain_bad_input(request: Request, error: RequestValidationError):
        errors = [{"loc": e["loc"], "msg": e["msg"]} for e in error.errors()]
        if "json" not in request.headers.get("content-type", ""):
            errors.insert(0, {"loc": ["header", "content-type"],
                              "msg": "send the header 'Content-Type: application/json' with a JSON body"})
        return JSONResponse({"detail": jsonable_encoder(errors), "expected": EXPECTED}, status_code=422)

    @app.get("/healthz", tags=["health"])
    async def healthz():
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        """Readiness: 200 once a model is loaded, 503 before."""
        current = live.current
        if current is None:
            return _no_model(settings)
        return {"status": "ready", "model_version": current.version}

    @app.get("/model", tags=["model"])
    async def model_info():
        """The live model's metadata: version, metrics, features, the snapshot it was trained on."""
        current = live.current
        return current.metadata if current else _no_model(settings)

    @app.post("/predict", tags=["model"], openapi_extra=PREDICT_BODY)
    async def predict_route(request: Request):
        """Predict one row or a batch with the live model."""
        current = live.current  # read once: a swap during this request cannot mix two models
        if current is None:
            return _no_model(settings)
        # Parsed here rather than by a body parameter: pydantic reads the JSON bytes directly, which
        # skips FastAPI's per-request dependency machinery (a fifth of a one-row request's time).
        if "json" not in request.headers.get("content-type", ""):
            raise RequestValidationError([])
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
        try:
            X = to_matrix(body.instances, current.metadata["feature_names"], settings.max_batch)
        except InputError as error:
            return JSONResponse({"detail": error.errors, "expected": EXPECTED}, status_code=422)
        return JSONResponse(predict(current, X))

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    async def metrics_route():
        """Prometheus text format: requests, latency, model version, reloads."""
        version = live.current.version if live.current else None
        return metrics.render(version, live.reloads, live.rejected)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home():
        return _home_page(live, settings)

    metrics.routes.update(route.path for route in app.routes)
    return app


def _home_page(live: LiveModel, settings: Settings) -> str:
    current = live.current
    if current is None:
        status = "<p>No model yet: the train step publishes one within seconds. This page updates on reload.</p>"
        example = ""
    else:
        meta = current.metadata
        metric = meta["primary_metric"]
        row = ", ".join("1.0" for _ in meta["feature_names"])
        status = (f"<p>Serving model <b>v{meta['version']}</b> ({meta['task']}, {metric} "
                  f"{meta['metrics'][metric]:.3f}), trained {meta['created_at']} on {meta['snapshot']}.</p>"
                  f"<p>Features: {html.escape(', '.join(meta['feature_names']))}</p>")
        example = (f"<pre>curl -s -X POST http://{settings.host}:{settings.port}/predict "
                   f"-H 'Content-Type: application/json' -d '{{\"instances\": [[{row}]]}}'</pre>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>mlsteps</title></head>"
            f"<body style='font-family: sans-serif; max-width: 48rem; margin: 2rem auto'>"
            f"<h1>mlsteps</h1>{status}{example}<p><a href='/docs'>/docs</a> (try it) · "
            f"<a href='/model'>/model</a> · <a href='/metrics'>/metrics</a> · <a href='/readyz'>/readyz</a></p>"
            f"</body></html>")
