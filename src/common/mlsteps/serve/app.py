"""The serve step: a FastAPI app answering predictions from the newest promoted model.

`create_app` builds the app from parts: the routes (`routes.py`), the model watched on the volume
(`live_model.py`), the metrics middleware (`metrics.py`) and the shortcut to /predict
(`speed_tricks/predict_shortcut.py`).
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
from mlsteps.serve.live_model import LiveModel
from mlsteps.serve.metrics import Metrics, MetricsMiddleware
from mlsteps.serve.request_body import openapi_with_features
from mlsteps.serve.routes import BodyTooLarge, explain_bad_input, refuse_large_body, router
from mlsteps.serve.speed_tricks.predict_shortcut import PredictShortcut

log = logging.getLogger("mlsteps.serve")


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
            settings.models_dir,
        )
    try:
        live.refresh()
    except Exception:  # serve always starts: alive, not ready, and the log says why
        log.exception("loading the first model failed; /readyz answers 503 until a model loads")
    if live.current is None:
        log.info(
            "no model served from %s yet: /readyz answers 503 until train publishes one it can load",
            settings.models_dir,
        )
    watcher = asyncio.create_task(watch_pointer(live, settings.reload_seconds))
    yield
    watcher.cancel()


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
    app.state.live = LiveModel(settings.models_dir, settings.signing_secret)
    app.include_router(router)
    app.openapi = openapi_with_features(app)  # /openapi.json and /docs show the live model's features
    app.add_exception_handler(RequestValidationError, explain_bad_input)
    app.add_exception_handler(BodyTooLarge, refuse_large_body)
    # The metrics' path labels: every route's path, so their number stays bounded. iter_route_contexts
    # (FastAPI's public helper) sees into the included router, which app.routes holds as one opaque entry.
    app.state.metrics = Metrics(
        routes={context.path for context in iter_route_contexts(app.routes)} - {None}, live=app.state.live
    )
    app.add_middleware(PredictShortcut)  # added first, so it runs inside the metrics: /predict is counted
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
