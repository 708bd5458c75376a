"""ONNX: train exports the pipeline when ONNX Runtime answers its holdout as scikit-learn does, and serve
with MLSTEPS_RUNTIME=onnx answers from that file without reading the pickle."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from helpers import REPO_ROOT, SAMPLE
from mlsteps.load_data import load_data
from mlsteps.onnx_model import ONNX_FILE
from mlsteps.serve.live_model import LiveModel
from mlsteps.show import show
from mlsteps.train import train
from mlsteps.volume.atomic import sha256_bytes
from mlsteps.volume.registry import MODEL_FILE, folder_name, read_metadata
from mlsteps.volume.snapshots import list_snapshots, read_snapshot

PENGUINS = REPO_ROOT / "src/my_ml/penguins_sample.csv"
PENGUIN_SETTINGS = {"dataset": f"csv:{PENGUINS}", "target_column": "species"}


def trained_with(settings, **changes):
    settings = settings.model_copy(update=changes)
    load_data(settings)
    train(settings)
    return settings


# Tried with skl2onnx 1.20, onnxruntime 1.31 and scikit-learn 1.9.1: what converts and passes the holdout check.
EXPORTS = {
    "linear": ({}, True),
    "forest": ({"pipeline": "forest"}, True),
    "knn": ({"pipeline": "knn"}, True),
    "kmeans": ({"dataset": "blobs"}, True),
    "ridge": ({"dataset": "diabetes"}, True),
    "penguins": (PENGUIN_SETTINGS, True),
    "boosting": ({"pipeline": "boosting"}, False),  # skl2onnx cannot convert scikit-learn 1.9's HistGradientBoosting
    "penguins-forest": ({**PENGUIN_SETTINGS, "pipeline": "forest"}, False),  # float32 splits: other probabilities
}


@pytest.mark.parametrize("case", EXPORTS, ids=list(EXPORTS))
def test_train_exports_onnx_when_it_answers_as_scikit_learn_and_says_why_not(settings, case):
    changes, exported = EXPORTS[case]
    settings = trained_with(settings, **changes)
    folder = settings.models_dir / folder_name(1)
    metadata = read_metadata(settings.models_dir, 1)
    assert metadata["onnx"]["exported"] is exported and (folder / ONNX_FILE).exists() is exported
    if exported:
        assert metadata["files"][ONNX_FILE]["sha256"] == sha256_bytes((folder / ONNX_FILE).read_bytes())
        assert metadata["onnx"]["checked_rows"] == metadata["holdout_rows"]
    else:
        assert "files" not in metadata and metadata["onnx"]["why"]


def snapshot_rows(settings, count: int = 8) -> list[dict]:
    """The newest snapshot's first rows, as /predict's named rows (None where a value is missing)."""
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    values = table.X.head(count).astype(object).to_numpy()
    return [
        {name: None if pd.isna(value) else value for name, value in zip(table.feature_names, row, strict=True)}
        for row in values
    ]


@pytest.mark.parametrize("changes", [{}, {"pipeline": "knn"}, PENGUIN_SETTINGS, {"dataset": "blobs"}])
def test_the_onnx_runtime_answers_what_scikit_learn_answers(settings, make_app, changes):
    settings = trained_with(settings, **changes)
    rows = snapshot_rows(settings)
    with TestClient(make_app(settings)) as client:
        expected = client.post("/predict", json={"instances": rows}).json()
    with TestClient(make_app(settings.model_copy(update={"runtime": "onnx"}))) as client:
        answer = client.post("/predict", json={"instances": rows}).json()
        assert answer["predictions"] == expected["predictions"]
        for name in ("probabilities", "distances"):
            if name in expected:
                assert np.allclose(answer[name], expected[name], atol=1e-4)  # both rounded to 4 decimals
        assert client.get("/v2/models/mlsteps").json()["platform"] == "onnx_onnxv1"


def test_the_onnx_runtime_never_reads_the_pickle(trained, make_app):
    """The pickle is replaced with bytes that would fail its checksum: the scikit-learn runtime refuses the
    model, the ONNX runtime serves it, because it never opens model.pkl."""
    (trained.models_dir / folder_name(1) / MODEL_FILE).write_bytes(b"not a pickle")
    with TestClient(make_app(trained)) as client:
        assert client.get("/readyz").status_code == 503
    with TestClient(make_app(trained.model_copy(update={"runtime": "onnx"}))) as client:
        assert client.get("/readyz").status_code == 200
        assert client.post("/predict", json=SAMPLE).json()["predictions"] == ["setosa"]


def test_a_tampered_onnx_file_is_refused(trained):
    (trained.models_dir / folder_name(1) / ONNX_FILE).write_bytes(b"not onnx")
    live = LiveModel(trained.models_dir, runtime="onnx")
    live.refresh()
    assert live.current is None and "model.onnx does not match its recorded sha256" in live.refused


def test_a_model_without_onnx_is_refused_in_one_sentence_and_the_previous_keeps_serving(trained, caplog):
    live = LiveModel(trained.models_dir, runtime="onnx")
    live.refresh()
    assert live.current.version == 1
    train(trained.model_copy(update={"pipeline": "boosting", "promotion_tolerance": 1.0}))  # v2: no ONNX file
    live.refresh()
    assert live.current.version == 1
    assert live.refused.startswith("model v2 has no ONNX file (skl2onnx cannot convert it")
    assert live.refused.endswith("and MLSTEPS_RUNTIME=onnx serves only those") and "\n" not in live.refused
    assert "still serving v1" in caplog.text


def test_show_prints_where_the_onnx_file_is(trained, capsys):
    show(trained)
    assert f"onnx: {(trained.models_dir / folder_name(1) / ONNX_FILE).resolve()}" in capsys.readouterr().out


def test_a_signed_model_signs_its_onnx_file_too(settings, make_app):
    key = "onnx-signing-key-0123456789"
    settings = trained_with(settings, signing_key=SecretStr(key))
    assert json.loads((settings.models_dir / folder_name(1) / "metadata.json").read_text())["files"][ONNX_FILE][
        "signature"
    ]
    other = LiveModel(settings.models_dir, signing_key="another-key-0123456789", runtime="onnx")  # as serve gets it
    other.refresh()
    assert other.current is None and "signature does not match" in other.refused
    with TestClient(make_app(settings.model_copy(update={"runtime": "onnx"}))) as client:
        assert client.get("/readyz").status_code == 200
