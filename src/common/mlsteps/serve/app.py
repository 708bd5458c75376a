"""The serve step: a FastAPI app answering predictions from the newest promoted model.

`create_app` builds the app from parts: the routes (`routes.py`), the optional API key (`api_key.py`), the
model watched on the volume (`live_model.py`), the metrics middleware (`metrics.py`) and, with the speed
tricks on (MLSTEPS_SPEED_TRICKS, the default), the shortcut to /predict (`speed_tricks/predict_shortcut.py`).
`run_server` is the step itself.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from fastapi_offline import FastAPIOffline

from mlsteps import __version__
from mlsteps.config import Settings
from mlsteps.serve.api_key import API_KEY, expected_key
from mlsteps.serve.feedback import feedback
from mlsteps.serve.live_model import LiveModel
from mlsteps.serve.live_report import LiveReport, watch_report
from mlsteps.serve.metrics import Metrics, MetricsMiddleware, MonitorCollector, PredictionLogCollector
from mlsteps.serve.monitor_view import monitoring
from mlsteps.serve.prediction_log import PredictionLog
from mlsteps.serve.protocols import include_protocols
from mlsteps.serve.protocols.infer_shortcut import InferShortcut
from mlsteps.serve.request_body import openapi_with_features
from mlsteps.serve.responses import UNAUTHORIZED
from mlsteps.serve.routes import BodyTooLarge, data, explain_bad_input, probes, refuse_large_body
from mlsteps.serve.speed_tricks.predict_shortcut import PredictShortcut
from mlsteps.serve.speed_tricks.process import tune_process_for_serving
from mlsteps.volume.location import models_area, monitor_area, prediction_log_area

log = logging.getLogger("mlsteps.serve")


def run_server(settings: Settings) -> None:
    """The serve step: tune this process, then answer HTTP until stopped (uvicorn)."""
    import uvicorn

    app = create_app(settings)
    if settings.speed_tricks:
        tune_process_for_serving()
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=settings.access_log)


async def watch_pointer(live: LiveModel, every_seconds: float) -> None:
    """Poll the volume's pointer until cancelled; a failed reload keeps the previous model serving."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await asyncio.to_thread(live.refresh)
        except Exception:  # keep watching whatever happened to one reload
            log.exception("model reload failed; still serving the previous model")


@asynccontextmanager
async def lifespan(app: FastAPI):
    """Load the model before the first request, then watch for a new one until shutdown."""
    live, settings = app.state.live, app.state.settings
    if settings.signing_key is None:
        log.warning(
            "models are not signed (MLSTEPS_SIGNING_KEY is unset): their sha256 catches corruption, not "
            "tampering, so whoever can write %s can run code here",
            live.models,
        )
    if not settings.speed_tricks:
        log.info("speed tricks off (MLSTEPS_SPEED_TRICKS=false): the plain FastAPI path answers, a little slower")
    try:
        live.refresh()
    except Exception:  # serve always starts: alive, not ready, and the log says why
        log.exception("loading the first model failed; /readyz answers 503 until a model loads")
    if live.current is None:
        log.info(
            "no model served from %s yet: /readyz answers 503 until train publishes one it can load",
            live.models,
        )
    watcher = asyncio.create_task(watch_pointer(live, settings.reload_seconds))
    report_watcher = asyncio.create_task(watch_report(app.state.report, settings.reload_seconds))
    prediction_log = app.state.prediction_log
    if prediction_log is not None:
        prediction_log.start()
    try:
        yield
    except asyncio.CancelledError:  # a second Ctrl-C: uvicorn quits at once, cancelling this at the loop's end
        pass  # nothing is left to stop but the watcher; re-raised, Starlette logs it as a failed shutdown
    finally:
        watcher.cancel()
        report_watcher.cancel()
        if prediction_log is not None:
            prediction_log.stop()  # what is still queued is written first


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the model is loaded in the lifespan and polled for changes, never per request."""
    # FastAPIOffline is FastAPI whose /docs loads Swagger UI from the installed package, not from a CDN:
    # the page works on a machine with no internet access.
    app = FastAPIOffline(
        # FastAPI's own OpenTelemetry hooks, off: serve has its Prometheus metrics, and with them on FastAPI
        # looks for a configured OpenTelemetry provider on every request. In process (uvicorn's httptools
        # protocol and the app, 30 interleaved rounds), one-row /predict went from 0.89 to 0.99 of a bare
        # endpoint's speed; docs/benchmarks.md ("Serving speed") has the figures over real sockets.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="mlsteps",
        version=__version__,
        lifespan=lifespan,
        description="Predictions from the newest promoted scikit-learn model on the shared volume.",
    )
    app.state.settings = settings
    app.state.api_key = expected_key(settings.api_key.get_secret_value() if settings.api_key else None)
    app.state.live = LiveModel(
        models_area(settings), settings.signing_secret, speed_tricks=settings.speed_tricks, runtime=settings.runtime
    )
    app.state.prediction_log = (
        PredictionLog(
            prediction_log_area(settings),
            settings.log_queue_size,
            keep_seconds=settings.log_keep_hours * 3600,
            keep_bytes=int(settings.log_keep_megabytes * 1_000_000),
        )
        if settings.prediction_log
        else None
    )
    # /predict first: FastAPI matches a request against the routes in order. With an API key, the data routes
    # need it, and their OpenAPI entries say so (and /docs has an Authorize button); without, they are open.
    app.state.report = LiveReport(monitor_area(settings))
    guard = {} if app.state.api_key is None else {"dependencies": [API_KEY], "responses": UNAUTHORIZED}
    for router in (data, feedback, monitoring):
        app.include_router(router, **guard)
    app.include_router(probes)
    include_protocols(app, guard)  # KServe V1 and the Open Inference Protocol V2 (serve/protocols/)
    app.openapi = openapi_with_features(app)  # /openapi.json and /docs show the live model's features
    app.add_exception_handler(RequestValidationError, explain_bad_input)
    app.add_exception_handler(BodyTooLarge, refuse_large_body)
    # The metrics' path labels: every route's path, so their number stays bounded. iter_route_contexts
    # (FastAPI's public helper) sees into the included router, which app.routes holds as one opaque entry.
    app.state.metrics = Metrics(
        routes={context.path for context in iter_route_contexts(app.routes)} - {None}, live=app.state.live
    )
    app.state.metrics.registry.register(MonitorCollector(app.state.report, app.state.live))
    if app.state.prediction_log is not None:
        app.state.metrics.registry.register(PredictionLogCollector(app.state.prediction_log))
    # Middleware added later runs around the earlier: the shortcut, added first, runs inside every other
    # (the metrics count /predict), and steps aside if a middleware is ever added inside it.
    if settings.speed_tricks:
        app.add_middleware(PredictShortcut, fastapi_app=app)
        app.add_middleware(InferShortcut, fastapi_app=app)  # V2 infer, outside /predict's shortcut (protocols/)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
