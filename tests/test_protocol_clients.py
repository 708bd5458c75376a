"""The projects' own clients against a real `mlsteps serve`: tritonclient (HTTP) and kserve's InferenceRESTClient.

Proof that a client written for Triton, KServe or MLServer talks to mlsteps unchanged: every call the
clients make for health, metadata and inference, with JSON tensors and with binary ones, for an all-numbers
model (iris) and the mixed table (penguins: text columns sent as BYTES). Their answers must equal /predict's.

The clients are not project dependencies: kserve pins its own ranges (pandas < 3, grpcio, the Kubernetes
client), so they live in their own venv, tests/.clients-venv/, made once from
tests/protocol_clients/requirements.txt (pinned; made again when it changes) and called as a subprocess
(tests/protocol_clients/call_clients.py). Marked e2e: it needs PyPI the first time; without it the tests
skip, saying why (MLSTEPS_REQUIRE_E2E=1 makes that a failure).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from helpers import REPO_ROOT, free_port, http_json, need, wait_for
from mlsteps.load_data import load_data
from mlsteps.table import TEXT
from mlsteps.train import train
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

pytestmark = pytest.mark.e2e

CLIENTS = REPO_ROOT / "tests" / "protocol_clients"
REQUIREMENTS = CLIENTS / "requirements.txt"
VENV = REPO_ROOT / "tests" / ".clients-venv"
PENGUINS = REPO_ROOT / "src/my_ml/penguins_sample.csv"


def clients_python() -> str:
    """The clients' venv python, made once (a changed requirements file makes it again); a skip when it cannot be."""
    python, stamp = VENV / "bin" / "python", VENV / "requirements.txt"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, timeout=300)
        (VENV / ".gitignore").write_text("*\n")  # the venv ignores itself
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as error:
        need(False, f"cannot make the clients' venv {VENV}: {error}")
    last = (done.stderr.strip().splitlines() or [""])[-1]
    need(done.returncode == 0, f"cannot install the clients into {VENV} (needs PyPI): {last}")
    stamp.write_text(wanted)
    return str(python)


@pytest.fixture(scope="module")
def python_of_clients() -> str:
    return clients_python()


def serve(settings, port: int) -> subprocess.Popen:
    env = {**os.environ, "MLSTEPS_DATA_DIR": str(settings.data_dir), "MLSTEPS_PORT": str(port)}
    env |= {"MLSTEPS_DATASET": settings.dataset, "MLSTEPS_ACCESS_LOG": "false"}
    process = subprocess.Popen([sys.executable, "-m", "mlsteps", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    wait_for("serve to be ready", lambda: http_json(f"http://127.0.0.1:{port}/readyz")[0] == 200, 60)
    return process


def rows_and_tensors(settings, count: int = 6) -> tuple[list[dict], list[dict]]:
    """The newest snapshot's first complete rows, as /predict's rows and as one V2 tensor per feature."""
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    complete = table.X.dropna().head(count).astype(object).to_numpy()
    names, features = table.feature_names, table.features()
    rows = [dict(zip(names, row, strict=True)) for row in complete]
    tensors = []
    for feature in features:
        text = feature["type"] == TEXT
        values = [row[feature["name"]] if text else float(row[feature["name"]]) for row in rows]
        tensors.append(
            {"name": feature["name"], "datatype": "BYTES" if text else "FP64", "shape": [len(rows)], "data": values}
        )
    if not any(feature["type"] == TEXT for feature in features):  # all numbers: one [rows, features] tensor too
        matrix = [[float(row[name]) for name in names] for row in rows]
        return rows, [{"name": "input-0", "datatype": "FP64", "shape": [len(rows), len(names)], "data": matrix}]
    return rows, tensors


DATASETS = {
    "iris": {},
    "penguins": {"dataset": f"csv:{PENGUINS}", "target_column": "species"},
}


@pytest.mark.parametrize("dataset", DATASETS, ids=list(DATASETS))
def test_tritonclient_and_kserves_client_get_predicts_answers(settings, python_of_clients, dataset):
    settings = settings.model_copy(update=DATASETS[dataset])
    load_data(settings)
    train(settings)
    rows, tensors = rows_and_tensors(settings)
    port = free_port()
    server = serve(settings, port)
    try:
        url = f"http://127.0.0.1:{port}"
        status, expected = http_json(f"{url}/predict", {"instances": rows})
        assert status == 200
        spec = {"url": url, "model": "mlsteps", "version": "1", "tensors": tensors, "proba": True, "instances": rows}
        done = subprocess.run(
            [python_of_clients, str(CLIENTS / "call_clients.py")],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        answers = json.loads(done.stdout)
    finally:
        server.terminate()
        server.wait(timeout=30)
    triton, kserve = answers["triton"], answers["kserve"]
    labels, probabilities = expected["predictions"], [p for row in expected["probabilities"] for p in row]
    assert [triton[k] for k in ("is_server_live", "is_server_ready", "is_model_ready", "is_model_ready_v1")] == [
        True
    ] * 4
    assert triton["is_model_ready_other"] is False
    assert triton["server_metadata"]["extensions"] == ["binary_tensor_data"]
    metadata = triton["model_metadata"]
    assert metadata["versions"] == ["1"] and [t["name"] for t in metadata["outputs"]] == ["predict", "predict_proba"]
    for binary in ("False", "True"):
        assert triton[f"infer_binary={binary}"] == {"id": "triton-1", "predict": labels, "predict_proba": probabilities}
        answer = kserve[f"v2_infer_binary={binary}"]
        assert answer == {"id": "kserve-1", "predict": labels, "predict_proba": probabilities}
    assert kserve["v1_infer"] == {"predictions": labels}
    assert [
        kserve[k] for k in ("v1_is_model_ready", "v2_is_server_live", "v2_is_server_ready", "v2_is_model_ready")
    ] == [True] * 4
    assert not math.isnan(probabilities[0])
