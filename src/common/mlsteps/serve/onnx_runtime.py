"""MLSTEPS_RUNTIME=onnx: the promoted model as ONNX Runtime answers it, read without unpickling anything.

Unpickling runs whatever code the file names, so a pickle must be trusted before it is read (registry.py
checks its checksum and signature first). An ONNX file is a graph of known operators: reading one runs no
code of the file's own. With this runtime serve never opens the pickle; a model train could not export
(`onnx.why` in its metadata) is refused in one sentence, and the previous model keeps serving.
"""

from __future__ import annotations

from pathlib import Path

from mlsteps import model_contract
from mlsteps.onnx_model import ONNX_FILE, onnx_model
from mlsteps.volume.registry import LoadedModel, ModelRejected, read_metadata, read_model_file
from mlsteps.volume.store import Area


def load_onnx_version(
    models: Area | Path, version: int, expected_sha256: str | None = None, signing_key: str | None = None
) -> LoadedModel:
    """Model `version`'s ONNX export, checked and loaded into ONNX Runtime; its pickle is never read.

    (`expected_sha256`, the pointer's checksum of the pickle, is not used: the pickle is not read.)
    """
    exported = read_metadata(models, version).get("onnx") or {}
    if not exported.get("exported"):
        why = exported.get("why", "none was exported with it")
        raise ModelRejected(f"model v{version} has no ONNX file ({why}), and MLSTEPS_RUNTIME=onnx serves only those")
    blob, metadata = read_model_file(models, version, ONNX_FILE, signing_key)
    try:
        model = onnx_model(blob, metadata, model_contract.features_of(metadata))
    except Exception as error:  # onnxruntime refuses the graph: do not serve it
        raise ModelRejected(f"model v{version}: ONNX Runtime cannot load {ONNX_FILE} ({error})") from None
    return LoadedModel(model, metadata)
