"""What each route answers, status by status: the schemas of serve's OpenAPI document (/openapi.json).

The routes build their answers as plain dicts and numpy arrays for speed; these models describe
them, so /docs and a schema-driven fuzzer check the same contract the tests do.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import orjson
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

OWN_HEADERS = frozenset({"content-length", "content-type"})  # what FastJSONResponse writes itself


class FastJSONResponse(Response):
    """JSON written by orjson: numpy arrays straight to text, no Python float per value.

    benchmarks/bench_level1.py: 1,000-row batches spent a third of their time in the standard
    library's json.dumps of Python lists.
    """

    media_type = "application/json"

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY, default=_contiguous)

    def init_headers(self, headers=None) -> None:
        """A 200 gets its two headers directly, after its own (an X-Request-ID); Starlette's rules for the rest.

        (Starlette's rules also leave out a content-length or content-type the caller set: those go to it.)
        """
        if self.status_code != 200 or (headers and not OWN_HEADERS.isdisjoint(map(str.lower, headers))):
            super().init_headers(headers)
            return
        own = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()]
        self.raw_headers = [*own, (b"content-length", b"%d" % len(self.body)), (b"content-type", b"application/json")]


def _contiguous(value):
    """orjson writes only C-ordered arrays; some models answer others (a transposed view): copy those."""
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


class Prediction(BaseModel):
    model_version: int
    predictions: list[str] | list[int] | list[float]  # labels (text or numbers), values, or cluster numbers
    classes: list[str] | list[int] | list[float] | None = None  # classification: its labels, typed as in training
    probabilities: list[list[float]] | None = None
    distances: list[float] | None = None  # clustering: each row's distance to its cluster's centre
    request_id: str  # the client's X-Request-ID, else a new one: POST /feedback names the request by it


class InputProblem(BaseModel):
    class Item(BaseModel):
        loc: list[str | int]
        msg: str

    detail: list[Item]
    expected: str


class TooLarge(BaseModel):
    detail: str


class Unauthorized(BaseModel):
    detail: str


class NotReady(BaseModel):
    status: Literal["waiting for a model", "model refused"]
    detail: str


class Ready(BaseModel):
    status: Literal["ready"]
    model_version: int


class Alive(BaseModel):
    status: Literal["ok"]


class ModelMetadata(BaseModel):
    """The live model's metadata.json (more keys than these may be present)."""

    model_config = ConfigDict(extra="allow")
    version: int
    task: Literal["classification", "regression", "clustering"]
    feature_names: list[str]
    primary_metric: str
    metrics: dict[str, float]
    sklearn_version: str
    sha256: str


# Added to the data routes with the API key (serve.create_app). The schema is written out, not a model's
# $ref: FastAPI would list a model under each route's own media type, and /metrics answers text.
UNAUTHORIZED = {
    401: {
        "description": "The request has no 'Authorization: Bearer <key>' header with the server's MLSTEPS_API_KEY",
        "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": Unauthorized.model_json_schema()}},
    }
}
NOT_READY = {503: {"model": NotReady, "description": "No model to answer with: none promoted yet, or refused"}}
PREDICT = {
    200: {
        "model": Prediction,
        "description": "One answer per row, from one model version",
        "headers": {"X-Request-ID": {"description": "The answer's request_id", "schema": {"type": "string"}}},
    },
    413: {"model": TooLarge, "description": "The body is larger than MLSTEPS_MAX_BODY_BYTES"},
    422: {
        "model": InputProblem,
        "description": "Not JSON, or not sent as application/json; rows that do not fit the live model or "
        "cannot be scored",
    },
    **NOT_READY,
}
