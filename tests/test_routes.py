"""serve under hostile input and broken volumes: bounded bodies, no 5xx, always starts, honest contract."""

import json
import pickle
import socket
import threading
import time

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from sklearn.linear_model import Ridge

from helpers import free_port
from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.atomic import sha256_bytes

ROW = [5.1, 3.5, 1.4, 0.2]


def replace_model(models_dir, version, model, **metadata_changes):
    """Write a model folder as a writer of the volume could: a loadable pickle with matching checksums."""
    folder = models_dir / f"v{version:06d}"
    blob = pickle.dumps(model)
    meta = json.loads((models_dir / "v000001" / "metadata.json").read_text())
    folder.mkdir(exist_ok=True)
    (folder / "model.pkl").write_bytes(blob)
    (folder / "metadata.json").write_text(
        json.dumps({**meta, "version": version, "sha256": sha256_bytes(blob), **metadata_changes})
    )
    (models_dir / "latest.json").write_text(json.dumps({"version": version, "sha256": sha256_bytes(blob)}))


# -- bodies: bounded before and while they are read --------------------------------------------------


def test_a_declared_body_over_the_limit_is_413_before_it_is_read(trained, make_app):
    settings = trained.model_copy(update={"max_body_bytes": 2048})
    with TestClient(make_app(settings)) as client:
        response = client.post(
            "/predict", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("the body is declared as 5002 bytes, over the limit of 2048")


def test_a_chunked_body_is_cut_off_at_the_limit_and_the_rest_never_read(trained, make_app):
    """A real uvicorn on a real socket: the server answers 413 long before the client could send it all."""
    settings = trained.model_copy(update={"max_body_bytes": 100_000})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    sent, answer = 0, b""
    try:
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"  # 64 KiB of JSON whitespace, for as long as it reads
            connection.settimeout(0.05)
            while sent < 60_000_000 and not answer:
                try:
                    connection.sendall(chunk)
                    sent += 0x10000
                    answer = connection.recv(4096)
                except TimeoutError:
                    continue
                except OSError:  # the server closed the connection after answering
                    connection.settimeout(2)
                    answer = connection.recv(4096)
    finally:
        server.should_exit = True
        thread.join(10)
    assert answer.startswith(b"HTTP/1.1 413") and b"over the limit of 100000" in answer
    assert sent < 8_000_000, f"the client could send {sent} bytes: the server kept reading"


def test_the_default_limit_follows_the_batch_limit(settings):
    assert settings.body_limit == settings.max_batch * 1024


# -- no 5xx for a request that passed validation --------------------------------------------------------


def test_rows_the_model_cannot_score_finitely_are_a_422_naming_them(client):
    response = client.post("/predict", json={"instances": [ROW, [1e308, 1e308, 1e308, 1e308]]})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "instances", 1],
            "msg": "the model cannot score this row with finite numbers "
            "(are its values too large, or missing where the model needs them?)",
        }
    ]


def test_a_regression_with_huge_inputs_is_a_422_too(settings, make_app):
    settings = settings.model_copy(update={"dataset": "diabetes"})
    load_data(settings)
    train(settings)
    with TestClient(make_app(settings)) as client:
        response = client.post("/predict", json={"instances": [[1e308] * 10]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "instances", 0]


@pytest.mark.parametrize("content_type", ["text/notjson", "application/jsonp", "text/plain; charset=json"])
def test_the_media_type_is_parsed_not_searched(client, content_type):
    response = client.post("/predict", content=json.dumps({"instances": [ROW]}), headers={"Content-Type": content_type})
    assert response.status_code == 422 and "Content-Type: application/json" in response.text


def test_json_with_parameters_is_accepted(client):
    response = client.post(
        "/predict",
        content=json.dumps({"instances": [ROW]}),
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert response.status_code == 200


# -- serve always starts; a model is tried before it goes live -----------------------------------------


@pytest.mark.parametrize(
    "pointer, words", [("[1, 2]", "has no whole-number 'version'"), ("{not json", "is unreadable")]
)
def test_a_fresh_serve_starts_alive_but_not_ready_when_the_pointer_is_refused(trained, pointer, words, make_app):
    (trained.models_dir / "latest.json").write_text(pointer)
    with TestClient(make_app(trained)) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "model refused" and words in ready.text
        assert "mlsteps_model_rejections_total 1.0" in client.get("/metrics").text


def test_metadata_without_feature_names_is_refused_not_a_crash(trained, make_app):
    path = trained.models_dir / "v000001" / "metadata.json"
    path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "feature_names"}))
    with TestClient(make_app(trained)) as client:
        assert "lacks feature_names" in client.get("/readyz").json()["detail"]


# The wrong Ridge was fitted without column names; scikit-learn warns when the trial gives it a table with them.
@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
@pytest.mark.parametrize(
    "model, words",
    [({"a": "dict"}, "a dict has no predict method"), (Ridge().fit(np.eye(4), np.arange(4.0)), "AttributeError")],
)
def test_a_loadable_but_wrong_pickle_fails_its_trial_and_the_previous_model_keeps_serving(
    client, trained, model, words
):
    replace_model(trained.models_dir, 2, model)  # a regressor under classification metadata, or not a model
    assert client.app.state.live.refresh() is False
    assert client.post("/predict", json={"instances": [ROW]}).json()["model_version"] == 1
    refused = client.app.state.live.refused
    assert refused.startswith("model v2 failed its trial on probe rows") and words in refused


# -- metrics with bounded labels ---------------------------------------------------------------------


def test_unknown_methods_and_paths_are_counted_as_other(client):
    for method in ("FOO", "BAR", "PURGE"):
        client.request(method, "/predict")
    client.get(f"/random-{time.time()}")
    response = client.get("/metrics")
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST  # the type generate_latest's format is
    methods = {
        line.split('method="')[1].split('"')[0]
        for line in response.text.splitlines()
        if line.startswith("mlsteps_requests_total{")
    }
    assert methods <= {"GET", "POST", "other"} and 'path="other"' in response.text
    assert "FOO" not in response.text and "random-" not in response.text


# -- the OpenAPI document is the behaviour -----------------------------------------------------------


def test_every_status_serve_answers_is_documented_with_a_schema(client):
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]
    assert set(predict["responses"]) == {"200", "413", "422", "503"}  # 401 too with an API key: test_serve
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                assert "schema" in next(iter(response["content"].values())), f"{method} {path} {status}"
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    assert "minLength" not in json.dumps(body) and body["properties"]["instances"]["minItems"] == 1
    rows = spec["components"]["schemas"]  # the live model's features, by name and in order
    assert rows["Row"]["required"] == client.get("/model").json()["feature_names"]
    assert rows["Row"]["properties"]["sepal_length_cm"]["type"] == ["number", "null"]
    assert rows["RowInFeatureOrder"]["minItems"] == rows["RowInFeatureOrder"]["maxItems"] == 4
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}


# -- clustering -------------------------------------------------------------------------------------


def test_a_clustering_model_answers_each_rows_cluster_and_distance(settings, make_app):
    settings = settings.model_copy(update={"dataset": "blobs"})
    load_data(settings)
    train(settings)
    with TestClient(make_app(settings)) as client:
        answer = client.post("/predict", json={"instances": [[-5, -5], [5, 5], [-5.2, -4.9]]}).json()
        assert answer["predictions"][0] == answer["predictions"][2] != answer["predictions"][1]
        assert all(isinstance(p, int) for p in answer["predictions"]) and all(d < 1.0 for d in answer["distances"])
        assert client.get("/model").json()["metrics"]["k"] == 4 and "k=4 clusters" in client.get("/").text


@pytest.mark.parametrize("pipeline", ["linear", "forest", "boosting", "knn"])
def test_every_builtin_pipeline_answers_one_row_and_a_batch(settings, pipeline, make_app):
    """Each model's own output layout reaches the JSON encoder (boosting answers a transposed array)."""
    settings = settings.model_copy(update={"pipeline": pipeline})
    load_data(settings)
    train(settings)
    with TestClient(make_app(settings)) as client:
        for rows in (1, 200):
            answer = client.post("/predict", json={"instances": [ROW] * rows})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == ["setosa"] * rows
