"""POST /predict answered by its endpoint function straight from the ASGI call: serve's one speed trick
at the HTTP layer.

FastAPI declares /predict like every other route (`routes.predict_route`: its schema, /docs, the
OpenAPI document). On each request, FastAPI would then pass the call through its exception
middleware, its router (matching the path against every route), its request handler and its
dependency solving before reaching that function. This pure ASGI middleware, the kind Starlette
documents for speed, calls the same function directly. Nothing else changes: the answer, the
handlers for bad input (those the app registered, picked as FastAPI would), the metrics middleware
around it, and Starlette's ServerErrorMiddleware, which still turns an unexpected error into a 500.
It does skip one thing: a `Depends(...)` added to `predict_route` (an API-key check, say) would never
run; put such a check in the endpoint itself, or remove this middleware (one line in
`serve.create_app`).

Measured in process (uvicorn's httptools protocol and the app, no sockets; minimum of interleaved
runs), a one-row request took 290 to 370 µs before it and 120 µs after, against 120 to 150 µs for a
bare FastAPI endpoint answering constant JSON; benchmarks/bench_serve.py shows the same over real
sockets (docs/benchmarks.md, "Serving speed").
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mlsteps.serve.routes import predict_route


class PredictShortcut:
    """Sends POST /predict to `routes.predict_route` directly; every other request to FastAPI as usual."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        try:
            response = await predict_route(request)
        except Exception as error:
            handler = registered_handler(scope["app"], error)
            if handler is None:
                raise  # Starlette's ServerErrorMiddleware answers 500, as for any route
            response = await handler(request, error)
        await response(scope, receive, send)


def registered_handler(app, error: Exception):
    """The handler the app registered for `error`'s class or its nearest base, as FastAPI's exception
    middleware picks it (the one for Exception itself is the 500 handler's, left to ServerErrorMiddleware);
    None when there is none."""
    for cls in type(error).__mro__:
        if cls is not Exception and cls in app.exception_handlers:
            return app.exception_handlers[cls]
    return None
