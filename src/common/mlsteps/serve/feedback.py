"""POST /feedback: the ground truth for an answered request, stored beside the prediction log.

The monitor step joins it with the logged answers by request_id to measure the live quality (accuracy
or mean absolute error). The body is read as /predict's is: bounded, then validated by pydantic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from mlsteps.errors import RuntimeFailure
from mlsteps.serve.prediction_log import INDEX_SIZE
from mlsteps.serve.request_body import Value
from mlsteps.serve.responses import TooLarge
from mlsteps.serve.routes import content_headers, is_json, read_limited
from mlsteps.volume.prediction_log import LOOKUP_UNRANGED

feedback = APIRouter()


class FeedbackRequest(BaseModel):
    """The true label (classification) or value (regression) of each row of one answered /predict request."""

    request_id: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        examples=["3f2b9c0e8a0d4a5b9d6f1e2c7b8a9d0e"]
    )
    actual: Annotated[list[Value], Field(min_length=1)] = Field(examples=[["setosa"], [151.0]])


class FeedbackStored(BaseModel):
    request_id: str
    rows: int


class FeedbackProblem(BaseModel):
    detail: str


FEEDBACK_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": FeedbackRequest.model_json_schema()}}}
}
FEEDBACK_RESPONSES = {
    200: {"model": FeedbackStored, "description": "Stored; the monitor step reads it on its next run"},
    404: {
        "model": FeedbackProblem,
        "description": (
            "No logged request has this id: unknown, older than the log keeps, or a client's own X-Request-ID "
            f"that this replica does not remember and the newest {LOOKUP_UNRANGED} log batches without an id "
            "range do not hold (serve's own ids are found however old)"
        ),
    },
    413: {"model": TooLarge, "description": "The body is larger than MLSTEPS_MAX_BODY_BYTES"},
    422: {"model": FeedbackProblem, "description": "Not a valid body, or not one value per row of that request"},
    503: {
        "model": FeedbackProblem,
        "description": "The prediction log is off, its queue is full, or the volume does not answer: retry later",
    },
}


NOT_FOUND_BECAUSE = (
    "unknown, older than the log keeps, or, for an id the client chose itself, not among this replica's last "
    f"{INDEX_SIZE:,} requests nor in the newest {LOOKUP_UNRANGED} log batches of such ids: send feedback sooner, "
    "or use the request_id serve answers with, which is found however old"
)


def problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@feedback.post("/feedback", tags=["monitoring"], openapi_extra=FEEDBACK_BODY, responses=FEEDBACK_RESPONSES)
async def feedback_route(request: Request) -> JSONResponse:
    """The true answers for one logged /predict request, one per row, in the order of its rows."""
    prediction_log, settings = request.app.state.prediction_log, request.app.state.settings
    if prediction_log is None:
        return problem(
            503, "the prediction log is off (MLSTEPS_PREDICTION_LOG=false): there is nothing to join feedback to"
        )
    content_type, content_length = content_headers(request)
    if not is_json(content_type):
        return problem(422, "send the header 'Content-Type: application/json' with a JSON body")
    body = await read_limited(request, settings.body_limit, content_length)
    try:
        given = FeedbackRequest.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        return problem(422, f'{where}: {first["msg"]}; expected {{"request_id": "...", "actual": [value, ...]}}')
    try:
        found = await asyncio.to_thread(prediction_log.find, given.request_id)
    except (OSError, RuntimeFailure) as error:  # the folder or the store cannot be read now (StoreUnavailable)
        return JSONResponse(
            {"detail": f"the prediction log cannot be read now ({error}); retry shortly"}, 503, {"Retry-After": "5"}
        )
    if found is None or found[1] < time.time() - settings.log_keep_hours * 3600:
        return problem(404, f"no logged request has the id {given.request_id!r} ({NOT_FOUND_BECAUSE})")
    rows = found[0]
    if len(given.actual) != rows:
        return problem(422, f"request {given.request_id} had {rows} rows; 'actual' has {len(given.actual)} values")
    if not prediction_log.record_feedback(given.request_id, given.actual):
        return JSONResponse({"detail": "the prediction log's queue is full; retry shortly"}, 503, {"Retry-After": "1"})
    return JSONResponse({"request_id": given.request_id, "rows": rows})
