"""POST /v2/models/{name}[/versions/{version}]/infer answered without FastAPI's router: the V2 speed trick.

FastAPI matches each request against every route and solves the route's dependencies before calling it;
for one row that was about three quarters of the request's time on the V2 route (in process, 300-420 µs
against /predict's 80-120 µs, which has its own shortcut, speed_tricks/predict_shortcut.py). This pure ASGI
middleware matches the two infer paths itself and calls the same function the routes call
(`open_inference_v2.answer_infer`), so the answers are the routes' to the byte. It runs only with the speed
tricks on, and steps aside when the server has an API key (the router then checks it, as for every route).
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mlsteps.serve.protocols.open_inference_v2 import answer_infer
from mlsteps.serve.speed_tricks.predict_shortcut import PredictShortcut, route_for

log = logging.getLogger("mlsteps.serve")

INFER = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")
PROBES = ("/v2/models/m/infer", "/v2/models/m/versions/1/infer")  # one path of each infer route


def infer_routes(app: FastAPI) -> list:
    """The route contexts FastAPI's router picks for the two infer paths (None where nothing matches)."""
    return [route_for(app, "POST", path) for path in PROBES]


def reason_to_step_aside(app: FastAPI, inner: ASGIApp, contexts: list) -> str | None:
    """Why the shortcut could not answer the infer routes as FastAPI would; None when it can.

    It calls `answer_infer` as the routes do, and nothing else: a dependency on a route, its router or the
    app (an API key, or a learner's own), a route of another kind, or a middleware added inside it would not
    run, so any of them sends every V2 request through FastAPI's routing.
    """
    if app.state.api_key is not None:
        return "the server has an API key, which the router checks"
    if isinstance(inner, PredictShortcut):  # /predict's shortcut, inside this one, passes V2 requests on
        inner = inner.app
    if not isinstance(inner, ExceptionMiddleware):
        return f"the middleware {type(inner).__name__} was added inside the shortcut and would be skipped"
    for context in contexts:
        if context is None or not isinstance(context.original_route, APIRoute):
            return "an infer path is not answered by serve's own route"
        if context.endpoint.__module__ != answer_infer.__module__:
            return f"an infer path is answered by {context.endpoint.__name__}, not serve's route"
        if context.dependant.dependencies:
            return "an infer route has dependencies, which FastAPI solves before calling it"
    return None


class InferShortcut:
    """POST .../infer answered as the V2 routes answer it, without the router; everything else goes on to FastAPI."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        self.fastapi_app = fastapi_app
        contexts = infer_routes(fastapi_app)
        why = reason_to_step_aside(fastapi_app, app, contexts)
        self.on = why is None
        if why:
            log.info("speed trick off: V2 infer goes through FastAPI's routing, because %s", why)
            return
        self.routes = [context.original_route for context in contexts]  # plain, then with /versions/{version}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.on
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith("/v2/models/")
        ):
            match = INFER.match(scope["path"])
            if match and not self.fastapi_app.dependency_overrides:
                scope["app"] = self.fastapi_app  # what request.app reads, as behind the router
                scope["route"] = self.routes[match["version"] is not None]  # as the router sets (the metrics' label)
                response = await answer_infer(Request(scope, receive), match["name"], match["version"])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
