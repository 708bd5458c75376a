"""serve's speed tricks change nothing but speed: the same answers, the same errors, the same metrics."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from helpers import SAMPLE, clear_mlsteps_variables
from mlsteps.config import load_settings
from mlsteps.load_data import load_data
from mlsteps.serve import create_app
from mlsteps.serve.request_body import PredictRequest, to_matrix
from mlsteps.serve.speed_tricks.plain_rows import plain_rows
from mlsteps.serve.speed_tricks.predict_shortcut import PredictShortcut
from mlsteps.train import train

ROW = SAMPLE["instances"][0]
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


def without_shortcut(app):
    """The same app with /predict reached through FastAPI's own routing (the stack is built on first request)."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not PredictShortcut]
    return app


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """TestClients of serve's app with and without the shortcut, on one volume trained for this module."""
    with pytest.MonkeyPatch.context() as env:
        clear_mlsteps_variables(env)
        settings = load_settings(data_dir=tmp_path_factory.mktemp("volume"))
        load_data(settings)
        train(settings)
        with TestClient(create_app(settings)) as fast, TestClient(without_shortcut(create_app(settings))) as routed:
            yield fast, routed


@pytest.mark.parametrize("name", REQUESTS)
def test_the_shortcut_answers_exactly_what_fastapis_routing_answers(both, name):
    body, headers = REQUESTS[name]
    fast, routed = (client.post("/predict", content=body, headers=headers) for client in both)
    assert (fast.status_code, fast.json()) == (routed.status_code, routed.json())
    assert fast.headers["content-type"] == routed.headers["content-type"]


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
    assert np.array_equal(to_matrix(rows, NAMES, 10), expected)
    named = [dict(zip(NAMES, row, strict=True)) for row in rows]
    assert np.array_equal(to_matrix(named, NAMES, 10), expected)
