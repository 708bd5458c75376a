"""The Open Inference Protocol (V2) over REST: what KServe, Triton and MLServer speak, for the live model.

Every endpoint the spec (`kserve/open-inference-protocol`, `inference_rest.md`) says a server has: server
live, ready and metadata; model metadata, ready and infer, each also under `/versions/{version}` (the live
version answers, any other is a 404). The model's name is MLSTEPS_MODEL_NAME. Its inputs: one tensor per
feature, or one [rows, features] tensor (rows.py); its outputs: `predict` (the labels, values or clusters
/predict answers) and, where the model has it, `predict_proba`, chosen by the request's `outputs`. Errors
are the spec's `{"error": "..."}`: 400 for a bad request, 404 for an unknown model or version.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from mlsteps import __version__, model_contract
from mlsteps.serve.protocols import schemas
from mlsteps.serve.protocols.rows import model_inputs
from mlsteps.serve.protocols.tensors import (
    BYTES,
    HEADER_LENGTH,
    TensorError,
    output_tensor,
    parameters_of,
    read_inputs,
    split_body,
)
from mlsteps.serve.request_body import InputError
from mlsteps.serve.responses import FastJSONResponse
from mlsteps.serve.routes import BodyTooLarge, read_limited
from mlsteps.serve.scoring import predict as answers_of
from mlsteps.serve.served_model import ServedModel

PREDICT, PREDICT_PROBA = "predict", "predict_proba"
EXTENSIONS = ["binary_tensor_data"]  # as Triton names its binary tensor extension
TAGS = ["Open Inference Protocol (V2)"]
PLATFORMS = {"sklearn": "sklearn_pickle", "onnx": "onnx_onnxv1"}  # the spec's <project>_<format> names

v2_probes = APIRouter(tags=TAGS)  # server live, ready and metadata: open, as /healthz and /readyz are
v2_models = APIRouter(tags=TAGS)  # the model's metadata, readiness and inference: behind the API key when set


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def explain(problem: InputError) -> str:
    """An InputError (rows that do not fit the model) in one sentence, naming the first row at fault."""
    item = problem.errors[0]
    rows = [part for part in item["loc"] if isinstance(part, int)]
    return f"row {rows[0]}: {item['msg']}" if rows else item["msg"]


def served(request: Request, name: str, version: str | None) -> ServedModel | JSONResponse:
    """The live model when `name` (and `version`, if given) are its own; else the spec's error object."""
    settings, current = request.app.state.settings, request.app.state.live.current
    if name != settings.model_name:
        return error(f"unknown model {name!r}; this server serves {settings.model_name!r}", 404)
    if current is None:
        return error(f"model {name!r} is not ready: no model is loaded yet (GET /readyz says why)", 503)
    if version is not None and version != str(current.version):
        return error(f"model {name!r} has no version {version!r} here; the live version is {current.version}", 404)
    return current


def output_datatype(current: ServedModel) -> str:
    if current.task == "classification":
        return BYTES if any(isinstance(label, str) for label in current.classes) else "INT64"
    return "INT64" if current.task == "clustering" else "FP64"


def metadata(current: ServedModel, name: str, runtime: str) -> dict:
    inputs = [
        {"name": feature["name"], "datatype": BYTES if feature["type"] == "text" else "FP64", "shape": [-1]}
        for feature in current.features
    ]
    outputs = [{"name": PREDICT, "datatype": output_datatype(current), "shape": [-1]}]
    if model_contract.PROBABILITIES in current.outputs:
        outputs.append({"name": PREDICT_PROBA, "datatype": "FP64", "shape": [-1, len(current.classes)]})
    return {
        "name": name,
        "versions": [str(current.version)],
        "platform": PLATFORMS[runtime],
        "inputs": inputs,
        "outputs": outputs,
    }


def wanted_outputs(payload: dict, current: ServedModel) -> list[tuple[str, bool]]:
    """(name, in binary) of each output the request asks for; `predict` when it names none."""
    all_binary = parameters_of(payload, "the request").get("binary_data_output") is True
    asked = payload.get("outputs")
    if asked is None:
        return [(PREDICT, all_binary)]
    if not (isinstance(asked, list) and all(isinstance(item, dict) for item in asked)):
        raise TensorError("'outputs' must be a list of {name, parameters}")
    has = [PREDICT] + ([PREDICT_PROBA] if model_contract.PROBABILITIES in current.outputs else [])
    chosen = []
    for item in asked:
        if item.get("name") not in has:
            raise TensorError(f"the model has no output {item.get('name')!r}; it has {', '.join(has)}")
        binary = parameters_of(item, f"output {item['name']!r}").get("binary_data") is True
        chosen.append((item["name"], all_binary or binary))
    return chosen


def inference_response(payload: dict, current: ServedModel, name: str, answer: dict, outputs) -> Response:
    """The spec's inference response; with any binary output, the JSON object followed by the tensors' bytes."""
    values = {PREDICT: answer["predictions"], PREDICT_PROBA: answer.get("probabilities")}
    tensors, chunks = [], []
    numbers = {PREDICT_PROBA, *([PREDICT] if current.task == "regression" else [])}
    for output, binary in outputs:
        tensor, data = output_tensor(output, values[output], binary, output in numbers)
        tensors.append(tensor)
        chunks.append(data)
    body = {"model_name": name, "model_version": str(current.version), "outputs": tensors}
    if "id" in payload:
        body["id"] = payload["id"]
    if not any(chunks):
        return FastJSONResponse(body)
    header = FastJSONResponse(body).body
    return Response(
        b"".join([header, *chunks]),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


@v2_probes.get("/v2/health/live", response_model=schemas.ServerLive)
async def server_live():
    """Server live: the process answers (as /healthz)."""
    return {"live": True}


@v2_probes.get("/v2/health/ready", response_model=schemas.ServerReady, responses={503: {"model": schemas.ServerReady}})
async def server_ready(request: Request):
    """Server ready: the model is loaded (as /readyz); 503 before."""
    ready = request.app.state.live.current is not None
    return JSONResponse({"ready": ready}, status_code=200 if ready else 503)


@v2_probes.get("/v2", response_model=schemas.ServerMetadata)
@v2_probes.get("/v2/", include_in_schema=False)
async def server_metadata():
    """Server metadata: its name, version and the protocol extensions it speaks."""
    return {"name": "mlsteps", "version": __version__, "extensions": EXTENSIONS}


MODEL_RESPONSES = {**schemas.UNKNOWN, **schemas.NO_MODEL}
INFER_RESPONSES = {
    200: {
        "model": schemas.InferenceResponse,
        "description": "The outputs asked for; binary ones after the JSON (Inference-Header-Content-Length)",
        "content": schemas.BINARY,
    },
    **schemas.BAD_REQUEST,
    413: schemas.error("The body is larger than MLSTEPS_MAX_BODY_BYTES"),
    **MODEL_RESPONSES,
}
METADATA = {"response_model": schemas.ModelMetadata, "responses": MODEL_RESPONSES}
READY = {"response_model": schemas.ModelReady, "responses": MODEL_RESPONSES}
INFER = {
    "response_model": schemas.InferenceResponse,
    "responses": INFER_RESPONSES,
    "openapi_extra": schemas.body(schemas.InferenceRequest, binary=True),
}


async def answer_metadata(request: Request, name: str, version: str | None) -> Response:
    current = served(request, name, version)
    if isinstance(current, Response):
        return current
    return JSONResponse(metadata(current, name, request.app.state.settings.runtime))


async def answer_ready(request: Request, name: str, version: str | None) -> Response:
    current = served(request, name, version)
    return current if isinstance(current, Response) else JSONResponse({"name": name, "ready": True})


async def answer_infer(request: Request, name: str, version: str | None) -> Response:
    current = served(request, name, version)
    if isinstance(current, Response):
        return current
    settings = request.app.state.settings
    try:
        body = await read_limited(request, settings.body_limit)
        payload, binary = split_body(body, request.headers.get(HEADER_LENGTH))
        if "id" in payload and not isinstance(payload["id"], str):
            raise TensorError("'id' must be text")
        outputs = wanted_outputs(payload, current)
        X = model_inputs(read_inputs(payload, binary), current.features, settings.max_batch)
        answer = answers_of(current, X)
    except TensorError as problem:
        return error(str(problem), 400)
    except InputError as problem:
        return error(explain(problem), 400)
    except BodyTooLarge as problem:
        return error(str(problem), 413)
    return inference_response(payload, current, name, answer, outputs)


# Each route twice, without and with /versions/{version}, as the spec lists them; the functions stay thin.
@v2_models.get("/v2/models/{name}", **METADATA)
async def model_metadata(request: Request, name: str) -> Response:
    """Model metadata: its inputs (one tensor per feature) and outputs, with datatypes and shapes."""
    return await answer_metadata(request, name, None)


@v2_models.get("/v2/models/{name}/versions/{version}", **METADATA)
async def model_version_metadata(request: Request, name: str, version: str) -> Response:
    """Model metadata of one version: the live one answers, others are a 404."""
    return await answer_metadata(request, name, version)


@v2_models.get("/v2/models/{name}/ready", **READY)
async def model_ready(request: Request, name: str) -> Response:
    """Model ready: 200 when the model answers, 503 while none is loaded."""
    return await answer_ready(request, name, None)


@v2_models.get("/v2/models/{name}/versions/{version}/ready", **READY)
async def model_version_ready(request: Request, name: str, version: str) -> Response:
    """Model ready, for one version: the live one."""
    return await answer_ready(request, name, version)


@v2_models.post("/v2/models/{name}/infer", **INFER)
async def infer(request: Request, name: str) -> Response:
    """Inference: the model's answers to the request's input tensors, as the output tensors it asks for."""
    return await answer_infer(request, name, None)


@v2_models.post("/v2/models/{name}/versions/{version}/infer", **INFER)
async def infer_version(request: Request, name: str, version: str) -> Response:
    """Inference with one version: the live one."""
    return await answer_infer(request, name, version)
