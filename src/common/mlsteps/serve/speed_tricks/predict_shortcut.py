"""POST /predict answered without FastAPI's router, by FastAPI's own parts: serve's speed trick at the HTTP layer.

FastAPI declares /predict like every other route (`routes.predict_route`: its schema, /docs, the OpenAPI
document). On each request FastAPI would then match the path against every route and wrap the call in
several layers before reaching that function. This pure ASGI middleware, the kind Starlette documents for
speed, finds at start-up the route FastAPI's router would pick for POST /predict and then answers it the way
FastAPI's request handler does, from the same public parts:

- the exception handlers the app registered (class and status-code ones, sync ones in a threadpool), in the
  tables Starlette's own `ExceptionMiddleware` builds, looked up by its `wrap_app_handling_exceptions` as
  for any route;
- the route's dependencies, those of its router and of the app, solved by FastAPI's own
  `solve_dependencies`, so `app.dependency_overrides`, sub-dependencies, `yield` clean-ups and sync
  dependencies (threadpool) behave as they do behind the router; a 422 for a missing header parameter too.
  Dependencies that are async and take nothing but the request, such as the API key's (`HTTPBearer`, then
  `api_key.require_api_key`), it calls itself, in the order solve_dependencies would (`direct`, `plan`):
  the same calls with the same arguments, without its per-request bookkeeping (an override, a yield or
  anything else sends the request through solve_dependencies);
- the middleware around it: this one is added last in `serve.create_app`, so every middleware the app has
  (the metrics, a learner's own) runs around the shortcut as around the router.

What it cannot do the same way, it leaves to FastAPI: at start-up it checks the route and steps aside,
logging why in one line, when POST /predict has a body parameter (FastAPI parses it first), a custom route
class, a route-level body limit, an endpoint not declared to return a Response (FastAPI would serialise
anything else), or a middleware added inside the shortcut (it would be skipped). Then every request goes
through FastAPI's routing, as with MLSTEPS_SPEED_TRICKS=false. tests/test_speed_tricks.py adds each feature
and compares the answers with the shortcut and without.

Measured in process (the app called as ASGI with a one-row request, the process tuned as `mlsteps serve`
tunes it; server CPU time, minimum of 21 interleaved rounds of 2,000): the bare endpoint 44 µs, /predict
41 µs, 47 µs with an API key; 36 µs for the earlier shortcut that ran no dependency and only class
handlers, 86 µs through FastAPI's router. docs/benchmarks.md ("Serving speed") has the figures over real
sockets.
"""

from __future__ import annotations

import inspect
import logging
from contextlib import AsyncExitStack

from fastapi import FastAPI
from fastapi.dependencies.utils import get_typed_return_annotation, solve_dependencies
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.concurrency import run_in_threadpool
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("mlsteps.serve")

PATH, METHOD = "/predict", "POST"


def route_for(app: FastAPI, method: str, path: str):
    """The route context FastAPI's router picks for `method` `path` (the first full match, in order), or None."""
    probe = {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {}}
    for context in iter_route_contexts(app.routes):
        if context.matches(probe)[0] == Match.FULL:
            return context
    return None


def reason_to_step_aside(app: FastAPI, inner: ASGIApp, context) -> str | None:
    """Why the shortcut could not answer POST /predict exactly as FastAPI would; None when it can."""
    if context is None:
        return "the app has no POST /predict route"
    route = context.original_route
    if not isinstance(route, APIRoute) or type(route).get_route_handler is not APIRoute.get_route_handler:
        return f"its route is a {type(route).__name__} with its own request handler"
    if not isinstance(inner, ExceptionMiddleware):
        return f"the middleware {type(inner).__name__} was added inside the shortcut and would be skipped"
    if context.body_field is not None:
        return "predict_route takes a body parameter, which FastAPI parses before calling it"
    if getattr(context, "max_body_size", None) is not None:
        return "the route has its own body limit"
    returns = get_typed_return_annotation(context.endpoint)
    if not (inspect.isclass(returns) and issubclass(returns, Response)):
        return "predict_route is not declared to return a Response (-> Response), which FastAPI sends as it is"
    return None


def direct(dependant, seen: set, top: bool = False) -> bool:
    """True when FastAPI's solve_dependencies would only call `dependant`'s dependencies with the request.

    That is: every dependency (and theirs) is an async function or an object with an async __call__, takes
    nothing but the request (as HTTPBearer and serve's require_api_key do) and appears once (so FastAPI's
    per-request cache has nothing to reuse); no `yield`, no parameter FastAPI reads from the request and could
    refuse with a 422, no Response, BackgroundTasks or SecurityScopes parameter, no concurrency limit. The
    endpoint itself (`top`) is called by `PredictShortcut.call`, sync or async.
    """
    d = dependant
    if d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params:
        return False
    if d.response_param_name or d.background_tasks_param_name or d.security_scopes_param_name:
        return False
    if d.websocket_param_name or getattr(d, "concurrency", None) is not None:
        return False
    if not top:
        call = d.call
        if call in seen or not (inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)):
            return False  # a sync dependency (a thread), a generator (yield), or one FastAPI would cache
        seen.add(call)
    return all(direct(sub, seen) for sub in d.dependencies)


def plan(dependant, steps: list) -> list[tuple[str, int | None]]:
    """`dependant`'s arguments as (name, source): the request (None) or the result of a step appended to `steps`.

    Each step is a dependency's call and its own arguments, in the order solve_dependencies calls them (a
    dependency's dependencies first): for the dependencies that `direct` accepts, running the steps in order
    gives the values solve_dependencies would, without a coroutine per level.
    """
    arguments = []
    for sub in dependant.dependencies:
        sub_arguments = plan(sub, steps)
        steps.append((sub.call, sub_arguments))
        if sub.name is not None:  # None: a dependency in `dependencies=[...]`, run for its effect
            arguments.append((sub.name, len(steps) - 1))
    for name in (dependant.http_connection_param_name, dependant.request_param_name):
        if name:
            arguments.append((name, None))
    return arguments


def raising(error: Exception) -> ASGIApp:
    """An ASGI app that raises `error`: hands an exception caught outside Starlette to its handler lookup."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise error

    return app


class PredictShortcut:
    """Answers POST /predict as FastAPI's route would, without the router; every other request goes on to FastAPI.

    `fastapi_app` is the app itself (the middleware is built on its first call, lifespan or request, once the
    routes, handlers and middleware are all known).
    """

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        context = route_for(fastapi_app, METHOD, PATH)
        why = reason_to_step_aside(fastapi_app, app, context)
        self.answer: ASGIApp | None = None
        if why:
            log.info("speed trick off: POST /predict goes through FastAPI's routing, because %s", why)
            return
        self.route = context.original_route
        self.endpoint = context.endpoint
        self.dependant = context.dependant
        self.overrides = context.dependency_overrides_provider
        self.is_coroutine = inspect.iscoroutinefunction(self.endpoint)
        # Called directly when every dependency is (see `direct`); solved by FastAPI otherwise.
        self.direct = direct(self.dependant, seen=set(), top=True)
        self.steps: list = []
        self.arguments = plan(self.dependant, self.steps) if self.direct else []
        # The handler tables FastAPI's ExceptionMiddleware looks exceptions up in, as it builds them (class
        # handlers, with HTTPException's, and status-code handlers): the app's handlers but the 500 one.
        handlers = {key: value for key, value in fastapi_app.exception_handlers.items() if key not in (500, Exception)}
        tables = ExceptionMiddleware(app, handlers=handlers, debug=fastapi_app.debug)
        self.handler_tables = (tables._exception_handlers, tables._status_handlers)
        self.answer = self.route_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.answer is None or scope["type"] != "http" or scope["path"] != PATH or scope["method"] != METHOD:
            return await self.app(scope, receive, send)
        scope["endpoint"], scope["path_params"], scope["route"] = self.endpoint, {}, self.route  # as the router sets
        scope["starlette.exception_handlers"] = self.handler_tables  # as FastAPI's ExceptionMiddleware sets
        await self.answer(scope, receive, send)

    async def route_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What FastAPI's `request_response` wraps around the route's handler: its Request, and the handlers
        looked up as Starlette looks them up (`wrap_app_handling_exceptions`), sync ones in a threadpool.

        (FastAPI's ExceptionMiddleware wraps the router in the same lookup once more, for what the router
        itself raises; the shortcut has no router, so one layer gives the same answers.) When every dependency
        is direct, the lookup is only built for an exception: the endpoint has then sent nothing yet, so the
        handler answers as it would behind the router, and a request that raises nothing pays for no wrapper.
        """
        request = Request(scope, receive, send)
        if self.direct and not (self.overrides is not None and self.overrides.dependency_overrides):
            try:
                response = await self.call_directly(request)
            except Exception as error:  # noqa: BLE001 - looked up as Starlette does; re-raised when unhandled
                await wrap_app_handling_exceptions(raising(error), request)(scope, receive, send)
                return
            await response(scope, receive, send)
        else:
            await wrap_app_handling_exceptions(self.call_with_dependencies(request), request)(scope, receive, send)

    async def call_directly(self, request: Request) -> Response:
        """What solve_dependencies does for dependencies that `direct` accepts, without its bookkeeping."""
        results = []
        for call, arguments in self.steps:
            results.append(await call(**{name: request if i is None else results[i] for name, i in arguments}))
        return await self.call({name: request if i is None else results[i] for name, i in self.arguments})

    def call_with_dependencies(self, request: Request) -> ASGIApp:
        """FastAPI's request handler for a route without a body: its exit stacks, dependencies, then the endpoint."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            async with AsyncExitStack() as request_stack:
                scope["fastapi_inner_astack"] = request_stack
                async with AsyncExitStack() as function_stack:
                    scope["fastapi_function_astack"] = function_stack
                    solved = await solve_dependencies(
                        request=request,
                        dependant=self.dependant,
                        dependency_overrides_provider=self.overrides,
                        async_exit_stack=request_stack,
                        embed_body_fields=False,
                    )
                    if solved.errors:
                        raise RequestValidationError(solved.errors)
                    response = await self.call(solved.values)
                    if response.background is None:
                        response.background = solved.background_tasks
                await response(scope, receive, send)

        return app

    async def call(self, values: dict) -> Response:
        response = (
            await self.endpoint(**values) if self.is_coroutine else await run_in_threadpool(self.endpoint, **values)
        )
        if not isinstance(response, Response):
            raise TypeError(
                f"{self.endpoint.__name__} returned a {type(response).__name__}, not the Response it declares"
            )
        return response
