"""The API: every endpoint, every kind of bad input, model swaps, and refusing a bad model."""

import json
import logging
import re
import time

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from helpers import SAMPLE
from mlsteps.cli import main
from mlsteps.config import load_settings
from mlsteps.load_data import load_data
from mlsteps.serve.routes import reachable_base_url
from mlsteps.train import train

ROW = [5.1, 3.5, 1.4, 0.2]


def test_not_ready_until_a_model_exists(settings, make_app):
    with TestClient(make_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "no model promoted yet" in ready.json()["detail"]
        assert client.post("/predict", json={"instances": [ROW]}).status_code == 503
        assert client.get("/model").status_code == 503
        assert "No model yet" in client.get("/").text


def test_ready_and_model_metadata(client):
    assert client.get("/readyz").json() == {"status": "ready", "model_version": 1}
    model = client.get("/model").json()
    assert model["version"] == 1 and model["task"] == "classification" and len(model["feature_names"]) == 4


def test_predict_one_row_and_a_batch(client):
    answer = client.post("/predict", json={"instances": [ROW, [6.7, 3.0, 5.2, 2.3]]}).json()
    assert answer["model_version"] == 1
    assert answer["predictions"] == ["setosa", "virginica"]
    assert answer["classes"] == ["setosa", "versicolor", "virginica"]
    assert all(abs(sum(p) - 1) < 1e-3 for p in answer["probabilities"])


def test_whole_numbers_are_numbers_too(client):
    answer = client.post("/predict", json={"instances": [[5, 3, 1, 0]]})
    assert answer.status_code == 200 and answer.json()["predictions"] == ["setosa"]


def test_predict_rows_keyed_by_feature_name(client):
    names = client.get("/model").json()["feature_names"]
    answer = client.post("/predict", json={"instances": [dict(zip(names, ROW, strict=True))]})
    assert answer.status_code == 200 and answer.json()["predictions"] == ["setosa"]


def test_regression_predictions_are_numbers(settings, make_app):
    settings = settings.model_copy(update={"dataset": "diabetes"})
    load_data(settings)
    train(settings)
    with TestClient(make_app(settings)) as client:
        answer = client.post("/predict", json={"instances": [[0.0] * 10]}).json()
    assert isinstance(answer["predictions"][0], float) and "probabilities" not in answer


@pytest.mark.parametrize(
    "body, words",
    [
        ({"instances": [[5.1, 3.5, 1.4]]}, "has 3 values; the model expects 4: sepal_length_cm"),
        ({"instances": [[5.1, "3.5", 1.4, 0.2]]}, "column 'sepal_width_cm' expects a number or null, got '3.5'"),
        ({"instances": [[5.1, True, 1.4, 0.2]]}, "valid number"),
        ({"instances": []}, "at least 1 item"),
        ({"instances": [{"sepal_length_cm": 1.0, "colour": 2.0}]}, "missing petal_length_cm"),
        ({"instances": [{"sepal_length_cm": 1.0, "colour": 2.0}]}, "unknown colour"),
        ({"rows": [ROW]}, "Field required"),
        ({"instances": [ROW] * 10_001}, "more than the limit of 10000"),
    ],
)
def test_bad_input_is_a_422_that_says_what_was_expected(client, body, words):
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert words in json.dumps(response.json()) and "instances" in response.json()["expected"]


@pytest.mark.parametrize("raw", ['{"instances": [[NaN, 1, 1, 1]]}', '{"instances": [[Infinity, 1, 1, 1]]}', "not json"])
def test_nan_infinity_and_broken_json_are_422(client, raw):
    response = client.post("/predict", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize("headers", [{}, {"Content-Type": "application/x-www-form-urlencoded"}])  # curl -d's default
def test_missing_content_type_is_explained(client, headers):
    response = client.post("/predict", content=json.dumps({"instances": [ROW]}), headers=headers)
    assert response.status_code == 422 and "Content-Type: application/json" in response.text
    assert "instances" in response.json()["expected"]


def test_new_model_is_picked_up_without_restart(trained, make_app):
    trained = trained.model_copy(update={"reload_seconds": 0.05})
    with TestClient(make_app(trained)) as client:
        load_data(trained)
        train(trained)
        deadline = time.monotonic() + 5
        while client.get("/readyz").json()["model_version"] != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.post("/predict", json={"instances": [ROW]}).json()["model_version"] == 2
        assert "mlsteps_model_reloads_total 2" in client.get("/metrics").text


def test_tampered_model_is_refused_and_the_previous_keeps_serving(client, trained, caplog):
    load_data(trained)
    train(trained)
    pickle_file = trained.models_dir / "v000002" / "model.pkl"
    pickle_file.write_bytes(b"\x80\x04evil")
    assert client.app.state.live.refresh() is False
    assert client.post("/predict", json={"instances": [ROW]}).json()["model_version"] == 1
    assert "refused model: model v2" in caplog.text and "still serving v1" in caplog.text
    assert "mlsteps_model_rejections_total 1" in client.get("/metrics").text


def test_metrics_in_prometheus_text_format(client):
    client.post("/predict", json={"instances": [ROW]})
    text = client.get("/metrics").text
    assert 'mlsteps_requests_total{method="POST",path="/predict",status="200"} 1' in text
    assert 'mlsteps_request_duration_seconds_count{path="/predict"} 1' in text
    assert "mlsteps_model_version 1" in text
    client.get("/no/such/page")
    assert 'path="other",status="404"' in client.get("/metrics").text


def test_home_page_and_docs(client):
    home = client.get("/")
    assert "Serving model <b>v1</b>" in home.text and "/docs" in home.text
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]] if "$ref" in schema else schema
    assert body["required"] and schema["required"] == ["instances"]  # what /docs shows for the body


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_work_offline(client, page):
    """Swagger UI and ReDoc come from the server itself: a learner with no internet still gets the page."""
    html = client.get(page).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [url for url in assets if "://" in url]
    assert all(client.get(url).status_code == 200 for url in assets)


def test_home_page_curl_example_uses_the_address_the_reader_used(trained, make_app):
    in_a_container = trained.model_copy(update={"host": "0.0.0.0"})
    with TestClient(make_app(in_a_container)) as client:
        home = client.get("/", headers={"Host": "localhost:30080"}).text
    assert "curl -s -X POST http://localhost:30080/predict" in home and "0.0.0.0" not in home


def test_without_a_host_header_the_curl_example_uses_the_address_the_request_arrived_at():
    request = Request(
        {
            "type": "http",
            "scheme": "http",
            "server": ("10.1.2.3", 8000),
            "path": "/",
            "root_path": "",
            "query_string": b"",
            "headers": [],
        }
    )
    assert reachable_base_url(request) == "http://10.1.2.3:8000"


def _refuse_v1(models_dir, why):
    folder = models_dir / "v000001"
    if why == "checksum":
        (folder / "model.pkl").write_bytes(b"\x80\x04evil")
        return "does not match"
    metadata = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**metadata, "sklearn_version": "0.0"}))
    return "trained with scikit-learn 0.0"


@pytest.mark.parametrize("why", ["checksum", "scikit-learn version"])
def test_not_ready_says_which_model_was_refused_and_why(trained, why, make_app):
    reason = _refuse_v1(trained.models_dir, why)
    with TestClient(make_app(trained)) as client:
        ready = client.get("/readyz")
        home = client.get("/").text
    assert ready.status_code == 503
    assert "model v1" in ready.json()["detail"] and reason in ready.json()["detail"]
    assert "no model promoted yet" not in ready.json()["detail"]
    assert "Refused model" in home and "model v1" in home and reason in home and "No model yet" in home


def test_home_page_says_a_newer_model_was_refused_while_the_previous_serves(client, trained):
    load_data(trained)
    train(trained)
    (trained.models_dir / "v000002" / "model.pkl").write_bytes(b"\x80\x04evil")
    client.app.state.live.refresh()
    home = client.get("/").text
    assert "Serving model <b>v1</b>" in home and "Refused model" in home and "model v2" in home
    assert client.get("/readyz").json() == {"status": "ready", "model_version": 1}


# -- the optional API key ------------------------------------------------------------------------------

KEY = "a-key-of-at-least-16-characters"
BEARER = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def keyed(trained, make_app):
    """A TestClient of serve with MLSTEPS_API_KEY set; both paths."""
    with TestClient(make_app(load_settings(data_dir=trained.data_dir, api_key=KEY))) as client:
        yield client


@pytest.mark.parametrize(
    "headers, words",
    [
        ({}, "this server needs an API key"),
        ({"Authorization": "Bearer a-wrong-key-of-16-characters"}, "wrong API key"),
        ({"Authorization": f"Basic {KEY}"}, "this server needs an API key"),
        ({"Authorization": f"Bearer {KEY}x"}, "wrong API key"),
    ],
)
@pytest.mark.parametrize("method, path", [("POST", "/predict"), ("GET", "/model"), ("GET", "/metrics")])
def test_with_an_api_key_the_data_routes_need_it(keyed, method, path, headers, words):
    response = keyed.request(method, path, json=SAMPLE, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"].startswith(words) and "Authorization: Bearer" in response.json()["detail"]
    assert KEY not in response.text


def test_with_the_api_key_the_data_routes_answer(keyed):
    assert keyed.post("/predict", json=SAMPLE, headers=BEARER).json()["predictions"] == ["setosa"]
    assert keyed.get("/model", headers=BEARER).json()["version"] == 1
    assert keyed.get("/metrics", headers={"authorization": f"bearer {KEY}"}).status_code == 200  # any case


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json", "/"])
def test_the_probes_and_the_docs_stay_open(keyed, path):
    assert keyed.get(path).status_code == 200


def test_the_api_key_shows_in_the_openapi_document_and_in_docs(keyed, client):
    spec = keyed.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["API key"]["scheme"] == "bearer"  # /docs: the Authorize button
    for path, method in [("/predict", "post"), ("/model", "get"), ("/metrics", "get")]:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"API key": []}]
        unauthorized = operation["responses"]["401"]
        assert unauthorized["headers"]["WWW-Authenticate"] and list(unauthorized["content"]) == ["application/json"]
        assert unauthorized["content"]["application/json"]["schema"]["required"] == ["detail"]
    assert "security" not in spec["paths"]["/readyz"]["get"] and "security" not in spec["paths"]["/healthz"]["get"]
    without = client.get("/openapi.json").json()  # no key: no 401 serve could answer, no Authorize button
    assert "securitySchemes" not in without.get("components", {}) and "401" not in json.dumps(without["paths"])


def test_without_an_api_key_every_route_is_open(client):
    assert client.post("/predict", json=SAMPLE).status_code == 200
    assert client.get("/model").status_code == 200 and client.get("/metrics").status_code == 200


def test_the_home_page_with_an_api_key_shows_the_header_and_not_the_models_details(keyed):
    home = keyed.get("/").text
    assert 'curl -s -X POST http://testserver/predict -H "Authorization: Bearer $MLSTEPS_API_KEY"' in home
    assert "Serving model <b>v1</b>" in home and "Features" not in home and KEY not in home


def test_the_api_key_is_never_logged(trained, make_app, caplog):
    with (
        caplog.at_level(logging.DEBUG),
        TestClient(make_app(load_settings(data_dir=trained.data_dir, api_key=KEY))) as c,
    ):
        c.post("/predict", json=SAMPLE, headers={"Authorization": "Bearer wrong-but-long-enough"})
        c.post("/predict", json=SAMPLE, headers=BEARER)
    assert caplog.records and KEY not in caplog.text


def test_a_short_api_key_stops_serve_with_one_sentence(settings, monkeypatch, capsys):
    monkeypatch.setenv("MLSTEPS_API_KEY", "hunter2")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == (
        "mlsteps serve: error: MLSTEPS_API_KEY must be at least 16 characters long "
        "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')."
    )


def test_the_home_page_escapes_what_it_shows(trained, make_app):
    """Feature names come from the learner's data (a CSV header): they are shown as text, never run as HTML."""
    path = trained.models_dir / "v000001" / "metadata.json"
    metadata = json.loads(path.read_text())
    path.write_text(json.dumps({**metadata, "feature_names": ["<script>alert(1)</script>", "b & c", "d", "e"]}))
    with TestClient(make_app(trained)) as client:
        home = client.get("/").text
    assert "<script>" not in home and "&lt;script&gt;alert(1)&lt;/script&gt;, b &amp; c" in home


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"authorization", b"Bearer " + KEY.encode())],
        [(b"authorization", b"bearer   " + KEY.encode() + b"  ")],
        [(b"authorization", b"Basic " + KEY.encode())],
        [(b"authorization", b"Bearer")],
        [(b"authorization", b"Bearer ")],
        [(b"authorization", b"Bearer \xa0" + KEY.encode() + b"\xa0")],
        [(b"authorization", b"Bearer one"), (b"authorization", b"Bearer two")],
        [(b"x-authorization", b"Bearer " + KEY.encode())],
    ],
)
def test_the_api_keys_bearer_reads_the_header_as_fastapis_httpbearer_does(headers):
    """serve's BearerToken reads the raw headers for speed: it must find the token FastAPI's HTTPBearer finds."""
    import asyncio

    from fastapi.security import HTTPBearer
    from starlette.requests import Request

    from mlsteps.serve.api_key import bearer

    request = Request({"type": "http", "headers": headers})
    theirs = asyncio.run(HTTPBearer(auto_error=False)(request))
    assert asyncio.run(bearer(request)) == (theirs.credentials if theirs else None)
