"""Fuzz the V2 routes from the spec's own OpenAPI file: no request makes serve answer a 5xx or raise.

tests/specs/open_inference_rest.yaml is the Open Inference Protocol's OpenAPI file as its repository has it.
Every path it lists is called with names and versions that exist and that do not; the inference request is
generated from the spec's `inference_request` schema, walked here by hand (no fuzzing library): valid
shapes first, then each body mutated (a key dropped, a value of the wrong type, a shape that disagrees
with its data, binary sizes that lie). Every answer must be the spec's: a 200 whose body validates against
`inference_response`, or a 4xx with `{"error": text}`. Seeded, so a failure repeats.
"""

from __future__ import annotations

import copy
import json
import random

import jsonschema
import pytest
import yaml

from helpers import REPO_ROOT

SPEC = yaml.safe_load((REPO_ROOT / "tests/specs/open_inference_rest.yaml").read_text())
SCHEMAS = SPEC["components"]["schemas"]
FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
# What the generator picks from, for the spec's strings, numbers and parameters: mostly values serve knows.
STRINGS = [
    "mlsteps",
    "predict",
    "predict_proba",
    "input-0",
    "FP64",
    "FP32",
    "INT64",
    "INT8",
    "UINT8",
    "BOOL",
    "FP16",
    "BYTES",
    "setosa",
    "",
    "x" * 300,
    "\u2603",
    *FEATURES,
]
INTEGERS = [-1, 0, 1, 2, 3, 4, 8, 2**40, 2**64]
NUMBERS = [0.0, 5.1, -3.5, 1e308, -1e308, 1e-300, 7]
PARAMETERS = ["binary_data_size", "binary_data", "binary_data_output", "content_type", "x"]
ROUNDS = 400


def resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def generate(schema: dict, rng: random.Random, depth: int = 0):
    """A value the schema allows, with values drawn from the pools above."""
    schema = resolve(schema)
    if "anyOf" in schema:
        options = schema["anyOf"] if depth < 3 else [s for s in schema["anyOf"] if "$ref" not in s]
        return generate(rng.choice(options), rng, depth + 1)
    kind = schema.get("type", "object")
    if kind == "object":
        if schema.get("title") == "parameters":
            return {
                rng.choice(PARAMETERS): rng.choice([True, False, 0, 16, 10**9, "x"]) for _ in range(rng.randint(0, 2))
            }
        properties = schema.get("properties", {})
        keys = [k for k in properties if k in schema.get("required", []) or rng.random() < 0.5]
        return {key: generate(properties[key], rng, depth + 1) for key in keys}
    if kind == "array":
        return [generate(schema["items"], rng, depth + 1) for _ in range(rng.choice([0, 1, 1, 2, 4, 8]))]
    if kind == "string":
        return rng.choice(STRINGS)
    if kind == "integer":
        return rng.choice(INTEGERS)
    if kind == "number":
        return rng.choice(NUMBERS)
    return rng.choice([True, False])


def plausible(body: dict, rng: random.Random) -> dict:
    """Half the time, one tensor whose shape, datatype and data agree, and outputs the model has: to reach it."""
    if rng.random() < 0.5:
        rows = rng.choice([1, 2, 3])
        data = [rng.choice([0, 1, 2, 5.1, 3.5, -2]) for _ in range(rows * 4)]
        datatype = rng.choice(["FP64", "FP32", "FP16", "INT64", "INT8", "UINT8"])
        body["inputs"] = [{"name": rng.choice(STRINGS), "shape": [rows, 4], "datatype": datatype, "data": data}]
        names = rng.sample(["predict", "predict_proba"], rng.randint(0, 2))
        body["outputs"] = [{"name": name, "parameters": generate(SCHEMAS["parameters"], rng)} for name in names]
    return body


def mutate(value, rng: random.Random):
    """The value with one node replaced by a wrong kind of value, or one key dropped."""
    if isinstance(value, dict) and value and rng.random() < 0.6:
        key = rng.choice(list(value))
        if rng.random() < 0.3:
            return {k: v for k, v in value.items() if k != key}
        return {**value, key: mutate(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.6:
        index = rng.randrange(len(value))
        return [*value[:index], mutate(value[index], rng), *value[index + 1 :]]
    return rng.choice([None, "text", -1, 1.5, [], {}, [[1, [2]]], True, 2**70])


def bodies(rng: random.Random):
    """(body bytes, headers): JSON bodies, then some in the binary extension's form."""
    body = plausible(generate(SCHEMAS["inference_request"], rng), rng)
    if rng.random() < 0.5:
        body = mutate(body, rng)
    encoded = json.dumps(body).encode()  # not orjson: it refuses whole numbers beyond 64 bits, which JSON allows
    if rng.random() < 0.2:  # the binary extension: a header length and bytes after the JSON, true or not
        tail = rng.randbytes(rng.choice([0, 4, 8, 32, 64]))
        length = rng.choice([len(encoded), len(encoded) + 5, 0, -1])
        return encoded + tail, {"Inference-Header-Content-Length": str(length)}
    if rng.random() < 0.05:
        return rng.randbytes(rng.randint(0, 64)), {}
    return encoded, {"Content-Type": "application/json"}


def spec_paths(name: str, version: str) -> list[tuple[str, str]]:
    paths = []
    for template, methods in SPEC["paths"].items():
        path = template.replace("${MODEL_NAME}", name).replace("${MODEL_VERSION}", version)
        paths += [(method.upper(), path) for method in methods if method != "parameters"]
        if "${MODEL_VERSION}" in template:  # the spec's paths without the optional /versions/<v> part
            paths += [(m.upper(), path.replace(f"/versions/{version}", "")) for m in methods if m != "parameters"]
    return paths


def check(response, method: str, path: str) -> None:
    where = f"{method} {path}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500 or (response.status_code == 503 and "ready" in response.text), where
    if response.status_code >= 400 and path.startswith("/v2/models"):
        assert isinstance(response.json().get("error"), str), where


def validate(answer: dict, name: str) -> None:
    jsonschema.validate(answer, {**SCHEMAS[name], "components": SPEC["components"]})


@pytest.mark.parametrize("name, version", [("mlsteps", "1"), ("mlsteps", "2"), ("other", "1"), ("m%C3%A9 l", "%00")])
def test_every_path_of_the_spec_answers_as_the_spec_says(client, name, version):
    for method, path in spec_paths(name, version):
        response = client.request(method, path, json={"inputs": []} if method == "POST" else None)
        check(response, method, path)
        if response.status_code == 200 and path.rstrip("/") == "/v2":
            validate(response.json(), "metadata_server_response")
        elif response.status_code == 200 and method == "GET" and not path.endswith("ready") and "/models/" in path:
            validate(response.json(), "metadata_model_response")


def test_generated_inference_requests_never_get_a_server_error(client):
    rng = random.Random(20)
    answered = {200: 0, 400: 0}
    for _ in range(ROUNDS):
        body, headers = bodies(rng)
        path = rng.choice(["/v2/models/mlsteps/infer", "/v2/models/mlsteps/versions/1/infer"])
        response = client.post(path, content=body, headers=headers)
        check(response, "POST", path)
        answered[response.status_code] = answered.get(response.status_code, 0) + 1
        if response.status_code == 200 and "inference-header-content-length" not in response.headers:
            validate(response.json(), "inference_response")
    assert answered[200] > 10 and answered[400] > 100, answered  # the generator reaches the model, and errors


def test_the_specs_own_example_request_is_answered(client):
    example = copy.deepcopy(SCHEMAS["inference_request"]["x-examples"]["Example 1"])
    response = client.post("/v2/models/mlsteps/infer", json=example)  # its model's output0 is not this model's
    assert response.status_code == 400 and "no output 'output0'" in response.json()["error"]
    del example["outputs"]  # then its input1, whose data (1 value) is shorter than its shape [3]
    response = client.post("/v2/models/mlsteps/infer", json=example)
    assert response.status_code == 400 and "input1" in response.json()["error"]
