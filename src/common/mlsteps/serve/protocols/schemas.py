"""What the KServe V1 and Open Inference Protocol V2 routes answer, status by status: their OpenAPI schemas.

The field names and shapes are the protocols' own (the V2 spec's `open_inference_rest.yaml`, KServe's V1
data plane); the routes build their answers as plain dicts for speed, and these models describe them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Parameters = dict[str, str | int | float | bool]
TensorData = list[Any]  # numbers, text or booleans, flat or nested in row-major order


class Error(BaseModel):
    error: str


class ServerLive(BaseModel):
    live: bool


class ServerReady(BaseModel):
    ready: bool


class ModelReady(BaseModel):
    name: str
    ready: bool


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 where the size varies (the number of rows)")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str] = []
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: TensorData | None = Field(None, description="absent when parameters.binary_data_size says it is binary")


class RequestOutput(BaseModel):
    name: str = Field(description="predict, or predict_proba where the model has it")
    parameters: Parameters | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: Parameters | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "42",
                    "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}],
                }
            ]
        }
    }


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: TensorData | None = Field(None, description="absent when parameters.binary_data_size says it is binary")


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class V1Predictions(BaseModel):
    predictions: list[str] | list[int] | list[float]


def error(description: str) -> dict:
    return {"model": Error, "description": description}


BAD_REQUEST = {400: error("The request is not valid: its JSON, a tensor's shape, datatype or data length")}
UNKNOWN = {404: error("No model of that name, or not the live version")}
NO_MODEL = {503: error("No model to answer with yet: none promoted, or the promoted one was refused")}
BINARY = {
    "application/octet-stream": {
        "schema": {"type": "string", "format": "binary"},
    }
}  # the binary tensor extension: the JSON object, then the tensors (Inference-Header-Content-Length)


def inlined(schema: dict) -> dict:
    """A pydantic model's JSON schema with its `$defs` written in place: a route's openapi_extra has no components."""
    definitions = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def body(model: type[BaseModel], binary: bool = False) -> dict:
    """A route's request body for /docs, for routes that read their body themselves (as /predict does)."""
    content = {"application/json": {"schema": inlined(model.model_json_schema())}}
    return {"requestBody": {"required": True, "content": {**content, **(BINARY if binary else {})}}}
