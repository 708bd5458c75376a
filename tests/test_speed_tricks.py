"""serve's speed tricks change nothing but speed: the same answers, errors and metrics as the plain path.

The plain path is serve with MLSTEPS_SPEED_TRICKS=false (FastAPI's own routing, pydantic reading every body,
scikit-learn scoring). Each feature a learner may add to /predict (dependencies on the route, the router or
the app, overrides, sync handlers, status-code handlers, middleware) is added to both and compared.
"""

import contextlib
import functools
import json
import logging
from typing import Annotated

import numpy as np
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from fastapi_offline import FastAPIOffline
from starlette.middleware import Middleware

from helpers import SAMPLE, clear_mlsteps_variables
from mlsteps.config import load_settings
from mlsteps.load_data import load_data
from mlsteps.serve import create_app, routes
from mlsteps.serve.api_key import require_api_key
from mlsteps.serve.request_body import PredictRequest, to_inputs
from mlsteps.serve.responses import FastJSONResponse
from mlsteps.serve.speed_tricks.plain_rows import plain_rows
from mlsteps.serve.speed_tricks.predict_shortcut import PredictShortcut
from mlsteps.train import train

ROW = SAMPLE["instances"][0]
KEY = "an-api-key-for-the-tests"
NAMES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
JSON = {"Content-Type": "application/json"}
REQUESTS = {  # name: (raw body, headers)
    "one row": (json.dumps(SAMPLE), JSON),
    "a batch": (json.dumps({"instances": [ROW, [6.7, 3.0, 5.2, 2.3]] * 60}), JSON),
    "whole numbers": ('{"instances": [[5, 3, 1, 0]]}', JSON),
    "named rows": (json.dumps({"instances": [dict(zip(NAMES, ROW, strict=True))]}), JSON),
    "a named row with a typo": (json.dumps({"instances": [{"sepal_lenght_cm": 1.0}]}), JSON),
    "too few values": ('{"instances": [[5.1, 3.5, 1.4]]}', JSON),
    "a number as text": ('{"instances": [[5.1, "3.5", 1.4, 0.2]]}', JSON),
    "true as a number": ('{"instances": [[5.1, true, 1.4, 0.2]]}', JSON),
    "null as a number": ('{"instances": [[5.1, null, 1.4, 0.2]]}', JSON),
    "NaN": ('{"instances": [[NaN, 3.5, 1.4, 0.2]]}', JSON),
    "no rows": ('{"instances": []}', JSON),
    "an empty row": ('{"instances": [[]]}', JSON),
    "broken JSON": ('{"instances": [[5.1, 3.5', JSON),
    "a JSON list": ("[[5.1, 3.5, 1.4, 0.2]]", JSON),
    "no Content-Type": (json.dumps(SAMPLE), {}),
    "too large": (json.dumps({"instances": [ROW] * 20}), {**JSON, "Content-Length": "999999999"}),
    "unscorable": ('{"instances": [[1e308, 1e308, 1e308, 1e308]]}', JSON),
}


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """Settings on one volume trained for this module, with no MLSTEPS_* variable leaking in."""
    with pytest.MonkeyPatch.context() as env:
        clear_mlsteps_variables(env)
        settings = load_settings(data_dir=tmp_path_factory.mktemp("volume"))
        load_data(settings)
        train(settings)
        yield settings


def shortcut_in(app) -> PredictShortcut:
    """The PredictShortcut in the app's middleware stack (built when the TestClient started the app)."""
    layer = app.middleware_stack
    while not isinstance(layer, PredictShortcut):
        layer = layer.app
    return layer


@contextlib.contextmanager
def both_paths(settings, change=lambda app: None, steps_aside=False, **setting_changes):
    """TestClients of serve's app with the speed tricks and without, each changed by `change(app)` first.

    Unless `steps_aside`, the shortcut must really answer /predict: else the comparison would be of two
    plain paths.
    """
    apps = []
    for tricks in (True, False):
        app = create_app(load_settings(data_dir=settings.data_dir, speed_tricks=tricks, **setting_changes))
        change(app)
        apps.append(app)
    with TestClient(apps[0]) as fast, TestClient(apps[1]) as plain:
        assert (shortcut_in(fast.app).answer is None) == steps_aside
        yield fast, plain


@pytest.fixture(scope="module")
def both(volume):
    with both_paths(volume) as clients:
        yield clients


HEADERS_THAT_MATTER = ("content-type", "www-authenticate", "x-learner")


def same_answer(clients, method="POST", path="/predict", **request):
    """The two paths' answers to one request: asserted equal (status, JSON or text, headers), then returned."""
    headers = {"X-Request-ID": "same-request", **request.pop("headers", {})}  # else each answer has its own id
    fast, plain = (client.request(method, path, headers=headers, **request) for client in clients)
    assert (fast.status_code, fast.text) == (plain.status_code, plain.text)
    assert [fast.headers.get(h) for h in HEADERS_THAT_MATTER] == [plain.headers.get(h) for h in HEADERS_THAT_MATTER]
    return fast


@pytest.mark.parametrize("name", REQUESTS)
def test_the_speed_tricks_answer_exactly_what_the_plain_path_answers(both, name):
    body, headers = REQUESTS[name]
    same_answer(both, content=body, headers=headers)


def test_the_shortcut_answers_the_model_and_its_errors_as_documented(both):
    fast, _ = both
    assert fast.post("/predict", json=SAMPLE).json()["predictions"] == ["setosa"]
    assert fast.post("/predict", content=REQUESTS["too few values"][0], headers=JSON).status_code == 422
    assert fast.get("/predict").status_code == 405  # other methods still go to FastAPI


def test_an_unexpected_error_in_predict_is_a_500_and_is_counted(trained, monkeypatch):
    def broken(served, X):
        raise RuntimeError("a bug")

    monkeypatch.setattr("mlsteps.serve.routes.predict", broken)
    with TestClient(create_app(trained), raise_server_exceptions=False) as client:
        assert client.post("/predict", json=SAMPLE).status_code == 500
        metrics = client.get("/metrics").text
    assert 'mlsteps_requests_total{method="POST",path="/predict",status="500"} 1.0' in metrics


def test_predictions_through_the_shortcut_are_counted_in_the_metrics(client):
    for _ in range(3):
        client.post("/predict", json=SAMPLE)
    metrics = client.get("/metrics").text
    assert 'mlsteps_requests_total{method="POST",path="/predict",status="200"} 3.0' in metrics
    assert 'mlsteps_request_duration_seconds_count{path="/predict"} 3.0' in metrics


def test_the_switch_turns_every_trick_off(volume, caplog):
    with caplog.at_level(logging.INFO, logger="mlsteps.serve"), both_paths(volume) as (fast, plain):
        assert [m.cls for m in fast.app.user_middleware].count(PredictShortcut) == 1
        assert PredictShortcut not in [m.cls for m in plain.app.user_middleware]
        assert fast.app.state.live.current.scorer is not None and plain.app.state.live.current.scorer is None
    assert caplog.text.count("speed tricks off (MLSTEPS_SPEED_TRICKS=false)") == 1


# -- what a learner may add to /predict behaves the same with the shortcut ----------------------------


class TeamRequired(Exception):
    """A learner's own error, raised by a dependency and answered by a handler the app registers."""


async def needs_team_header(request: Request) -> None:
    if request.headers.get("x-team") != "blue":
        raise HTTPException(403, "send X-Team: blue")


def needs_team_header_sync(request: Request) -> None:  # FastAPI runs a sync dependency in a threadpool
    if request.headers.get("x-team") != "blue":
        raise TeamRequired()


def with_router(monkeypatch, router) -> None:
    """serve's data routes (/predict...), included through a learner's router."""
    router.include_router(routes.data)
    monkeypatch.setattr("mlsteps.serve.app.data", router)


def team_answers(clients) -> tuple[int, int]:
    """The status without the team header and with it, asserted the same on both paths."""
    refused = same_answer(clients, json=SAMPLE)
    allowed = same_answer(clients, json=SAMPLE, headers={"X-Team": "blue"})
    return refused.status_code, allowed.status_code


def test_a_dependency_on_the_route_runs(volume, monkeypatch):
    learner = APIRouter()
    learner.add_api_route(
        "/predict",
        routes.predict_route,
        methods=["POST"],
        dependencies=[Depends(needs_team_header)],
        response_class=FastJSONResponse,
    )
    with_router(monkeypatch, learner)
    with both_paths(volume) as clients:
        assert team_answers(clients) == (403, 200)


def test_a_dependency_on_the_router_runs(volume, monkeypatch):
    with_router(monkeypatch, APIRouter(dependencies=[Depends(needs_team_header)]))
    with both_paths(volume) as clients:
        assert team_answers(clients) == (403, 200)


def test_a_dependency_on_the_app_runs(volume, monkeypatch):
    app_class = functools.partial(FastAPIOffline, dependencies=[Depends(needs_team_header)])
    monkeypatch.setattr("mlsteps.serve.app.FastAPIOffline", app_class)
    with both_paths(volume) as clients:
        assert team_answers(clients) == (403, 200)


def test_a_sync_dependency_and_a_sync_exception_handler_answer_as_fastapi_does(volume, monkeypatch):
    def teapot(request, error):  # sync: Starlette runs it in a threadpool
        return JSONResponse({"detail": "no team"}, status_code=418, headers={"X-Learner": "sync handler"})

    with_router(monkeypatch, APIRouter(dependencies=[Depends(needs_team_header_sync)]))
    with both_paths(volume, lambda app: app.add_exception_handler(TeamRequired, teapot)) as clients:
        assert team_answers(clients) == (418, 200)


def test_a_dependency_with_yield_cleans_up_after_each_request(volume, monkeypatch):
    closed = []

    async def session():
        yield "a session"
        closed.append(True)

    with_router(monkeypatch, APIRouter(dependencies=[Depends(session)]))
    with both_paths(volume) as clients:
        same_answer(clients, json=SAMPLE)
    assert closed == [True, True]


def test_a_header_parameter_a_dependency_needs_is_a_422_when_missing(volume, monkeypatch):
    async def tenant(x_tenant: Annotated[str, Header()]) -> str:
        return x_tenant

    with_router(monkeypatch, APIRouter(dependencies=[Depends(tenant)]))
    with both_paths(volume) as clients:
        assert same_answer(clients, json=SAMPLE).status_code == 422
        assert same_answer(clients, json=SAMPLE, headers={"X-Tenant": "a"}).status_code == 200


def test_a_status_code_handler_answers_the_api_keys_401(volume):
    async def unauthorized(request, error):
        return JSONResponse({"detail": "ask the team for a key"}, status_code=401, headers=error.headers)

    change = functools.partial(FastAPI.add_exception_handler, exc_class_or_status_code=401, handler=unauthorized)
    with both_paths(volume, lambda app: change(app), api_key=KEY) as clients:
        refused = same_answer(clients, json=SAMPLE)
        assert refused.status_code == 401 and refused.json() == {"detail": "ask the team for a key"}
        assert refused.headers["www-authenticate"] == "Bearer"
        assert same_answer(clients, json=SAMPLE, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_dependency_overrides_apply(volume):
    async def always_refuse():
        raise HTTPException(401, "overridden", headers={"WWW-Authenticate": "Bearer"})

    def override(app):
        app.dependency_overrides[require_api_key] = always_refuse

    with both_paths(volume, override, api_key=KEY) as clients:  # the override refuses even the right key
        assert same_answer(clients, json=SAMPLE, headers={"Authorization": f"Bearer {KEY}"}).status_code == 401
        assert same_answer(clients, json=SAMPLE).json() == {"detail": "overridden"}


class LearnerHeader:
    """A learner's pure ASGI middleware: one header on every answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def send_with_header(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-learner", b"was here")]
            await send(message)

        await self.app(scope, receive, send_with_header)


def test_middleware_added_to_the_app_runs_around_predict(volume):
    with both_paths(volume, lambda app: app.add_middleware(LearnerHeader)) as clients:
        assert same_answer(clients, json=SAMPLE).headers["x-learner"] == "was here"


def test_middleware_added_inside_the_shortcut_makes_it_step_aside_and_say_why(volume, caplog):
    def inside(app):
        app.user_middleware.append(Middleware(LearnerHeader))  # after the shortcut in the list: inside it

    with caplog.at_level(logging.INFO, logger="mlsteps.serve"), both_paths(volume, inside, steps_aside=True) as clients:
        assert same_answer(clients, json=SAMPLE).headers["x-learner"] == "was here"
    steps_aside = [r.message for r in caplog.records if r.message.startswith("speed trick off")]
    assert steps_aside == [  # both shortcuts: the middleware would be skipped on the V2 infer paths too
        "speed trick off: POST /predict goes through FastAPI's routing, because the middleware LearnerHeader "
        "was added inside the shortcut and would be skipped",
        "speed trick off: V2 infer goes through FastAPI's routing, because the middleware LearnerHeader "
        "was added inside the shortcut and would be skipped",
    ]


def test_a_body_parameter_on_predict_makes_the_shortcut_step_aside(volume, monkeypatch, caplog):
    async def typed(request: Request, body: PredictRequest) -> Response:
        return JSONResponse({"rows": len(body.instances)})

    learner = APIRouter()
    learner.add_api_route("/predict", typed, methods=["POST"])
    with_router(monkeypatch, learner)
    with caplog.at_level(logging.INFO, logger="mlsteps.serve"), both_paths(volume, steps_aside=True) as clients:
        assert same_answer(clients, json=SAMPLE).json() == {"rows": 1}
    assert "because predict_route takes a body parameter" in caplog.text


# -- plain_rows: the fast reading of a body must agree with pydantic's ---------------------------------


@pytest.mark.parametrize("name", REQUESTS)
def test_plain_rows_takes_only_bodies_pydantic_accepts_and_reads_them_alike(name):
    body = REQUESTS[name][0].encode()
    rows = plain_rows(body)
    if rows is not None:
        assert rows == PredictRequest.model_validate_json(body).instances


@pytest.mark.parametrize("name", ["one row", "a batch", "whole numbers", "too few values", "unscorable"])
def test_plain_rows_reads_rows_of_numbers(name):
    assert plain_rows(REQUESTS[name][0].encode()) is not None


@pytest.mark.parametrize(
    "name", ["named rows", "a number as text", "true as a number", "null as a number", "NaN", "no rows", "an empty row"]
)
def test_plain_rows_leaves_everything_else_to_pydantic(name):
    assert plain_rows(REQUESTS[name][0].encode()) is None


def test_rows_become_the_same_matrix_whichever_way_they_were_read():
    rows = [[5, 3.5, -1e-3, 2e10], [0, 0, 0, 1]]
    expected = np.array(rows, dtype=float)
    features = [{"name": name, "type": "number"} for name in NAMES]
    assert np.array_equal(to_inputs(rows, features, 10), expected)
    named = [dict(zip(NAMES, row, strict=True)) for row in rows]
    assert np.array_equal(to_inputs(named, features, 10), expected)
