"""KServe V1 and the Open Inference Protocol V2 (serve/protocols/): the same answers as /predict, the spec's errors.

In process, on both of serve's paths (the `make_app` fixture). The projects' own clients (tritonclient,
kserve) against a real uvicorn are in test_protocol_clients.py; the tensor codec's binary form is checked
here byte by byte, as Triton's extension defines it.
"""

from __future__ import annotations

import functools
import math
import struct

import numpy as np
import orjson
import pytest
from fastapi import Depends, Request
from fastapi.testclient import TestClient
from fastapi_offline import FastAPIOffline
from pydantic import SecretStr

from helpers import REPO_ROOT, SAMPLE
from mlsteps.config import ConfigError, load_settings
from mlsteps.load_data import load_data
from mlsteps.serve.protocols.tensors import TensorError, output_tensor, read_inputs, split_body
from mlsteps.table import TEXT
from mlsteps.train import train
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

PENGUINS = REPO_ROOT / "src/my_ml/penguins_sample.csv"
INFER = "/v2/models/mlsteps/infer"
ROW = SAMPLE["instances"][0]
# Each built-in pipeline, on a dataset of its task; the penguins are the mixed table (text columns, missing values).
CASES = {
    "linear": {"pipeline": "linear"},
    "forest": {"pipeline": "forest"},
    "boosting": {"pipeline": "boosting"},
    "knn": {"pipeline": "knn"},
    "kmeans": {"dataset": "blobs"},
    "regression": {"dataset": "diabetes"},
    "penguins-linear": {"dataset": f"csv:{PENGUINS}", "target_column": "species"},
    "penguins-boosting": {"dataset": f"csv:{PENGUINS}", "target_column": "species", "pipeline": "boosting"},
}


def trained_on(settings, **changes):
    settings = settings.model_copy(update=changes)
    load_data(settings)
    train(settings)
    return settings


def snapshot_rows(settings, count: int = 7) -> tuple[list[dict], list[dict]]:
    """The newest snapshot's first rows as /predict's named rows (None where missing), and its features."""
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    first = table.X.head(count).astype(object).to_numpy()
    rows = [
        {
            name: (None if value is None or (isinstance(value, float) and math.isnan(value)) else value)
            for name, value in zip(table.feature_names, row, strict=True)
        }
        for row in first
    ]
    return rows, table.features()


def feature_tensors(rows: list[dict], features: list[dict]) -> list[dict]:
    """One V2 tensor per feature: BYTES for text, FP64 for numbers (null where missing)."""
    return [
        {
            "name": feature["name"],
            "shape": [len(rows)],
            "datatype": "BYTES" if feature["type"] == TEXT else "FP64",
            "data": [row[feature["name"]] for row in rows],
        }
        for feature in features
    ]


def v2_outputs(answer: dict) -> dict:
    return {output["name"]: output for output in answer["outputs"]}


@pytest.mark.parametrize("count", [1, 7], ids=["one row", "seven rows"])  # one: the plain-Python scorer's floats
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_v1_and_v2_answer_what_predict_answers(settings, make_app, case, count):
    settings = trained_on(settings, **CASES[case])
    rows, features = snapshot_rows(settings, count)
    with TestClient(make_app(settings)) as client:
        expected = client.post("/predict", json={"instances": rows}).json()
        v1 = client.post("/v1/models/mlsteps:predict", json={"instances": rows})
        assert v1.status_code == 200 and v1.json() == {"predictions": expected["predictions"]}
        asked = [{"name": "predict"}] + ([{"name": "predict_proba"}] if "probabilities" in expected else [])
        requests = [{"id": "by-feature", "inputs": feature_tensors(rows, features), "outputs": asked}]
        if all(feature["type"] != TEXT for feature in features):  # one [rows, features] tensor, in feature order
            matrix = [[row[f["name"]] for f in features] for row in rows]
            tensor = {"name": "input-0", "shape": [len(rows), len(features)], "datatype": "FP64", "data": matrix}
            requests.append({"id": "matrix", "inputs": [tensor], "outputs": asked})
        for request in requests:
            response = client.post(INFER, json=request)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert (answer["id"], answer["model_name"], answer["model_version"]) == (request["id"], "mlsteps", "1")
            outputs = v2_outputs(answer)
            assert outputs["predict"]["data"] == list(expected["predictions"])
            assert outputs["predict"]["shape"] == [len(rows)]
            if case == "regression":
                assert outputs["predict"]["datatype"] == "FP64"
            if "probabilities" in expected:
                probabilities = np.asarray(expected["probabilities"])
                assert outputs["predict_proba"]["datatype"] == "FP64"
                assert outputs["predict_proba"]["shape"] == list(probabilities.shape)
                assert outputs["predict_proba"]["data"] == probabilities.ravel().tolist()


def test_v2_answers_predict_alone_unless_asked_and_refuses_an_output_the_model_lacks(client, trained, make_app):
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ROW}
    answer = client.post(INFER, json={"inputs": [tensor]}).json()
    assert [o["name"] for o in answer["outputs"]] == ["predict"] and answer["outputs"][0]["datatype"] == "BYTES"
    assert "id" not in answer
    refused = client.post(INFER, json={"inputs": [tensor], "outputs": [{"name": "distances"}]})
    assert (
        refused.status_code == 400
        and "has no output 'distances'; it has predict, predict_proba" in refused.json()["error"]
    )


def binary_request(request: dict, chunks: list[bytes]) -> tuple[bytes, dict]:
    header = orjson.dumps(request)
    return header + b"".join(chunks), {"Inference-Header-Content-Length": str(len(header))}


def test_binary_tensors_in_and_out_as_triton_defines_them(settings, make_app):
    """FP32 little-endian numbers, BYTES as 4-byte lengths then UTF-8; the answers after the JSON header."""
    settings = trained_on(settings, dataset=f"csv:{PENGUINS}", target_column="species")
    rows, features = snapshot_rows(settings, 3)
    rows = [{name: value for name, value in row.items()} for row in rows if None not in row.values()]
    inputs, chunks = [], []
    for feature in features:
        values = [row[feature["name"]] for row in rows]
        if feature["type"] == TEXT:
            data = b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
            datatype = "BYTES"
        else:
            data, datatype = np.asarray(values, dtype="<f8").tobytes(), "FP64"
        inputs.append(
            {
                "name": feature["name"],
                "shape": [len(rows)],
                "datatype": datatype,
                "parameters": {"binary_data_size": len(data)},
            }
        )
        chunks.append(data)
    request = {
        "inputs": inputs,
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
        "parameters": {"binary_data_output": True},
    }
    body, headers = binary_request(request, chunks)
    with TestClient(make_app(settings)) as client:
        expected = client.post("/predict", json={"instances": rows}).json()
        response = client.post(INFER, content=body, headers=headers)
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    header, rest = orjson.loads(response.content[:length]), response.content[length:]
    predict, proba = header["outputs"]
    labels, offset = [], 0
    while offset < predict["parameters"]["binary_data_size"]:
        (size,) = struct.unpack_from("<I", rest, offset)
        labels.append(rest[offset + 4 : offset + 4 + size].decode())
        offset += 4 + size
    assert labels == expected["predictions"] and "data" not in predict
    probabilities = np.frombuffer(rest[offset:], dtype="<f8").reshape(proba["shape"])
    assert probabilities.tolist() == expected["probabilities"]


def test_one_output_in_binary_the_other_in_json(client):
    tensor = {"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [ROW, ROW]}
    request = {
        "inputs": [tensor],
        "outputs": [{"name": "predict"}, {"name": "predict_proba", "parameters": {"binary_data": True}}],
    }
    response = client.post(INFER, json=request)
    length = int(response.headers["inference-header-content-length"])
    predict, proba = orjson.loads(response.content[:length])["outputs"]
    assert predict["data"] == ["setosa", "setosa"] and proba["parameters"] == {"binary_data_size": 48}
    assert len(response.content) == length + 48 and (proba["datatype"], proba["shape"]) == ("FP64", [2, 3])
    expected = client.post("/predict", json={"instances": [ROW, ROW]}).json()["probabilities"]
    assert np.frombuffer(response.content[length:], dtype="<f8").reshape(2, 3).tolist() == expected


BAD_BODIES = {
    "not JSON": (b"{", "not JSON"),
    "not an object": (b"[1]", "JSON object"),
    "no inputs": (b"{}", "'inputs' must be"),
    "an input without a name": (b'{"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]}', "needs a 'name'"),
    "unknown datatype": (
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP8", "data": [1, 2, 3, 4]}]}',
        "'FP8' is not one of",
    ),
    "a negative dimension": (
        b'{"inputs": [{"name": "x", "shape": [-1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
        "shape",
    ),
    "data shorter than the shape": (
        b'{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
        "needs 8",
    ),
    "the wrong number of features": (
        b'{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}',
        "[rows, 4]",
    ),
    "text in a number tensor": (
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, "a"]}]}',
        "must be numbers",
    ),
    "a fraction in an INT64 tensor": (
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4.5]}]}',
        "whole numbers",
    ),
    "ragged data": (
        b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [[1, 2], [3]]}]}',
        "regular nesting",
    ),
    "numbers as BYTES": (
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": [1, 2, 3, 4]}]}',
        "must be strings",
    ),
    "no rows": (b'{"inputs": [{"name": "x", "shape": [0, 4], "datatype": "FP64", "data": []}]}', "no rows"),
    "an id that is a number": (
        b'{"id": 7, "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
        "'id'",
    ),
    "outputs that are not a list": (
        b'{"outputs": {}, "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}',
        "'outputs'",
    ),
    "two tensors that are not the features": (
        b'{"inputs": [{"name": "a", "shape": [1], "datatype": "FP64", "data": [1]}, '
        b'{"name": "b", "shape": [1], "datatype": "FP64", "data": [1]}]}',
        "missing sepal_length_cm",
    ),
    "an overflow inside the model": (
        b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1e308, 1e308, 1e308, 1e308]}]}',
        "row 0",
    ),
}


@pytest.mark.parametrize("body, words", BAD_BODIES.values(), ids=list(BAD_BODIES))
def test_a_bad_request_is_a_400_with_the_specs_error_object(client, body, words):
    response = client.post(INFER, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and set(response.json()) == {"error"}, response.text
    assert words in response.json()["error"]


BAD_BINARY = {
    "a header length beyond the body": ("999", b"{}", "not a length within the body"),
    "binary data shorter than its shape": ("{}", b"\0" * 8, "bytes of binary data"),
    "bytes no input claims": ("{}", b"\0" * 40, "no input claims"),
}


@pytest.mark.parametrize("length, tail, words", BAD_BINARY.values(), ids=list(BAD_BINARY))
def test_bad_binary_data_is_a_400(client, length, tail, words):
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP64", "parameters": {"binary_data_size": min(len(tail), 32)}}
    header = orjson.dumps({"inputs": [tensor]})
    headers = {"Inference-Header-Content-Length": str(len(header)) if length == "{}" else length}
    response = client.post(INFER, content=header + tail, headers=headers)
    assert response.status_code == 400 and words in response.json()["error"], response.text


def test_unknown_models_and_versions_are_404s_and_the_live_version_answers(client):
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/mlsteps/versions/2", "/v1/models/other"):
        response = client.get(path)
        assert response.status_code == 404 and set(response.json()) == {"error"}, path
    for path in ("/v2/models/other/infer", "/v2/models/mlsteps/versions/2/infer", "/v1/models/other:predict"):
        response = client.post(path, json={"inputs": [tensor], "instances": [ROW]})
        assert response.status_code == 404 and "error" in response.json(), path
    assert client.post("/v2/models/mlsteps/versions/1/infer", json={"inputs": [tensor]}).status_code == 200
    assert client.get("/v2/models/mlsteps/versions/1/ready").json() == {"name": "mlsteps", "ready": True}
    assert client.get("/v1/models/mlsteps").json() == {"name": "mlsteps", "ready": True}
    metadata = client.get("/v2/models/mlsteps/versions/1").json()
    assert metadata["versions"] == ["1"] and [o["name"] for o in metadata["outputs"]] == ["predict", "predict_proba"]
    assert metadata["inputs"][0] == {"name": "sepal_length_cm", "datatype": "FP64", "shape": [-1]}


def test_the_server_probes_and_metadata(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["extensions"] == ["binary_tensor_data"]


def test_without_a_model_the_server_is_live_and_the_model_not_ready(settings, make_app):
    with TestClient(make_app(settings)) as client:
        assert client.get("/v2/health/live").status_code == 200
        assert client.get("/v2/health/ready").status_code == 503
        for response in (
            client.get("/v2/models/mlsteps/ready"),
            client.get("/v1/models/mlsteps"),
            client.post(INFER, json={"inputs": []}),
        ):
            assert response.status_code == 503 and "not ready" in response.json()["error"]


def test_v1_refuses_bad_rows_with_kserves_error_object(client):
    for body, words in (
        ({"instances": [[1, 2]]}, "row 0: has 2 values"),
        ({"rows": []}, "instances"),
        ({"instances": [["a", 1, 2, 3]]}, "expects a number"),
    ):
        response = client.post("/v1/models/mlsteps:predict", json=body)
        assert response.status_code == 400 and words in response.json()["error"], response.text


def test_the_model_name_is_a_setting(trained, make_app, monkeypatch):
    monkeypatch.setenv("MLSTEPS_MODEL_NAME", "iris-classifier")
    with TestClient(make_app(load_settings(data_dir=trained.data_dir))) as client:
        assert client.get("/v2/models/iris-classifier/ready").status_code == 200
        assert client.get("/v2/models/mlsteps/ready").status_code == 404
    monkeypatch.setenv("MLSTEPS_MODEL_NAME", "a/b")
    with pytest.raises(ConfigError, match="part of a URL"):
        load_settings()


def test_the_api_key_guards_the_model_routes_and_not_the_server_probes(trained, make_app):
    key = "protocols-api-key-0123456789"
    with TestClient(make_app(trained.model_copy(update={"api_key": SecretStr(key)}))) as client:
        assert client.get("/v2/health/ready").status_code == 200 and client.get("/v2").status_code == 200
        for path in ("/v2/models/mlsteps", "/v2/models/mlsteps/ready", "/v1/models/mlsteps"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
        for path in ("/v2/models/mlsteps/infer", "/v2/models/mlsteps/versions/1/infer"):  # the shortcut steps aside
            assert client.post(path, json=body).status_code == 401
            assert client.post(path, json=body, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_the_openapi_document_lists_every_v1_and_v2_route_and_status(client):
    paths = client.get("/openapi.json").json()["paths"]
    infer = paths["/v2/models/{name}/infer"]["post"]
    assert {"200", "400", "404", "413", "503"} <= set(infer["responses"])  # and FastAPI's 422 for path parameters
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert "$ref" not in str(infer["requestBody"])  # the request's schema is written out in full
    expected = {"/v2", "/v2/health/live", "/v2/health/ready", "/v1/models/{name}", "/v1/models/{name}:predict"}
    expected |= {
        f"/v2/models/{{name}}{version}{end}"
        for version in ("", "/versions/{version}")
        for end in ("", "/ready", "/infer")
    }
    assert expected <= set(paths)


# -- the codec alone ---------------------------------------------------------------------------------


def test_json_data_may_be_nested_or_flat_and_null_is_missing():
    request, binary = split_body(
        b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, null], [3, 4]]}]}', None
    )
    (tensor,) = read_inputs(request, binary)
    assert tensor.shape == (2, 2) and np.isnan(tensor.values[1]) and tensor.values[3] == 4


def test_outputs_are_typed_by_their_values():
    assert output_tensor("predict", np.array(["a", "b"], dtype=object), False)[0]["datatype"] == "BYTES"
    assert output_tensor("predict", np.array([1, 2]), False)[0]["datatype"] == "INT64"
    tensor, data = output_tensor("predict_proba", np.array([[0.5, 0.5]]), True)
    assert (tensor["shape"], tensor["datatype"], data) == ([1, 2], "FP64", np.array([0.5, 0.5], "<f8").tobytes())


def test_a_bytes_element_cut_short_is_refused():
    header = orjson.dumps(
        {"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]}
    )
    request, binary = split_body(header + struct.pack("<I", 5) + b"ab", str(len(header)))
    with pytest.raises(TensorError, match="ends inside an element"):
        read_inputs(request, binary)


def test_a_learners_dependency_on_the_app_runs_on_v2_infer_too(trained, make_app, monkeypatch):
    """The V2 shortcut answers only what FastAPI's route would: a dependency it cannot run sends it aside."""
    seen = []

    async def audit(request: Request) -> None:
        seen.append(request.url.path)

    app_class = functools.partial(FastAPIOffline, dependencies=[Depends(audit)])  # a dependency on every route
    monkeypatch.setattr("mlsteps.serve.app.FastAPIOffline", app_class)
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    with TestClient(make_app(trained)) as client:
        assert client.post("/v2/models/mlsteps/infer", json=body).status_code == 200
    assert "/v2/models/mlsteps/infer" in seen


def test_v2_requests_are_counted_by_their_route_template(client):
    body = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}]}
    assert client.post("/v2/models/mlsteps/infer", json=body).status_code == 200
    metrics = client.get("/metrics").text
    # The template, not "other" (nor one series per model name): the label stays bounded.
    assert 'mlsteps_requests_total{method="POST",path="/v2/models/{name}/infer",status="200"} 1.0' in metrics
