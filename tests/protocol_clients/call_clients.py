"""Run by tests/test_protocol_clients.py in the clients' own venv: call mlsteps with tritonclient and kserve.

Reads one JSON object on stdin: the server's URL, the model's name, the input tensors (name, datatype,
shape, data) and whether the model has predict_proba. Prints one JSON object: what each client call
answered, numpy arrays as lists. The test compares it with /predict's answers; nothing is checked here.
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

NUMPY = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "BYTES": np.object_}


def arrays(spec: dict) -> list[tuple[dict, np.ndarray]]:
    return [(t, np.asarray(t["data"], dtype=NUMPY[t["datatype"]]).reshape(t["shape"])) for t in spec["tensors"]]


def plain(array: np.ndarray) -> list:
    """Labels the clients hand back as bytes become text, so the test compares them with /predict's."""
    return [v.decode() if isinstance(v, bytes) else v for v in array.reshape(-1).tolist()]


def with_triton(spec: dict) -> dict:
    client = triton.InferenceServerClient(spec["url"].removeprefix("http://"))
    name = spec["model"]
    answers = {
        "is_server_live": client.is_server_live(),
        "is_server_ready": client.is_server_ready(),
        "is_model_ready": client.is_model_ready(name),
        "is_model_ready_v1": client.is_model_ready(name, model_version=spec["version"]),
        "is_model_ready_other": client.is_model_ready("no-such-model"),
        "server_metadata": client.get_server_metadata(),
        "model_metadata": client.get_model_metadata(name),
    }
    names = ["predict"] + (["predict_proba"] if spec["proba"] else [])
    for binary in (False, True):
        inputs = []
        for tensor, array in arrays(spec):
            item = triton.InferInput(tensor["name"], list(array.shape), tensor["datatype"])
            item.set_data_from_numpy(array, binary_data=binary)
            inputs.append(item)
        outputs = [triton.InferRequestedOutput(output, binary_data=binary) for output in names]
        result = client.infer(name, inputs, outputs=outputs, request_id="triton-1")
        answers[f"infer_binary={binary}"] = {
            "id": result.get_response()["id"],
            **{output: plain(result.as_numpy(output)) for output in names},
        }
    return answers


async def with_kserve(spec: dict) -> dict:
    url, name, answers = spec["url"], spec["model"], {}
    v1 = InferenceRESTClient(RESTConfig(protocol="v1"))
    answers["v1_is_model_ready"] = await v1.is_model_ready(url, name)
    answers["v1_infer"] = await v1.infer(url, {"instances": spec["instances"]}, model_name=name)
    await v1.close()
    v2 = InferenceRESTClient(RESTConfig(protocol="v2"))
    answers["v2_is_server_live"] = await v2.is_server_live(url)
    answers["v2_is_server_ready"] = await v2.is_server_ready(url)
    answers["v2_is_model_ready"] = await v2.is_model_ready(url, name)
    names = ["predict"] + (["predict_proba"] if spec["proba"] else [])
    for binary in (False, True):
        inputs = []
        for tensor, array in arrays(spec):
            item = InferInput(tensor["name"], list(array.shape), tensor["datatype"])
            item.set_data_from_numpy(array, binary_data=binary)
            inputs.append(item)
        outputs = [RequestedOutput(output, {"binary_data": binary}) for output in names]
        request = InferRequest(name, inputs, request_id="kserve-1", request_outputs=outputs)
        response = await v2.infer(url, request, model_name=name)
        answers[f"v2_infer_binary={binary}"] = {
            "id": response.id,
            **{output.name: plain(output.as_numpy()) for output in response.outputs},
        }
    await v2.close()
    return answers


def main() -> None:
    spec = json.load(sys.stdin)
    answers = {"triton": with_triton(spec), "kserve": asyncio.run(with_kserve(spec))}
    print(json.dumps(answers, default=str))


if __name__ == "__main__":
    main()
