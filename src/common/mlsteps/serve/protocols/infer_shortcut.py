"""POST /v2/models/{name}[/versions/{version}]/infer answered without FastAPI's router: the V2 speed trick.

FastAPI matches each request against every route and solves the route's dependencies before calling it;
for one row that was about three quarters of the request's time on the V2 route (in process, 300-420 µs
against /predict's 80-120 µs, which has its own shortcut, speed_tricks/predict_shortcut.py). This pure ASGI
middleware matches the two infer paths itself and calls the same function the routes call
(`open_inference_v2.answer_infer`), so the answers are the routes' to the byte. It runs only with the speed
tricks on, and steps aside when the server has an API key (the router then checks it, as for every route).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mlsteps.serve.protocols.open_inference_v2 import answer_infer

INFER = re.compile(r"^/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")


class InferShortcut:
    def __init__(self, app: ASGIApp, fastapi_app):
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/v2/models/"):
            match = INFER.match(scope["path"])
            if match and self.fastapi_app.state.api_key is None:
                scope["app"] = self.fastapi_app  # what request.app reads, as behind the router
                response = await answer_infer(Request(scope, receive), match["name"], match["version"])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
