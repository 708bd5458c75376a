"""The train step: a model per run, full metadata, and no promotion of a clearly worse model."""

import json
import platform
from dataclasses import replace

import numpy as np
import sklearn

from mlsteps.load_data import load_data
from mlsteps.load_data.datasets import bundled
from mlsteps.train import train
from mlsteps.volume.registry import list_versions, load_latest, read_pointer
from mlsteps.volume.snapshots import next_sequence, write_snapshot


def test_no_data_yet_is_a_clean_no_op(settings, caplog):
    caplog.set_level("INFO")
    assert train(settings) is None
    assert "no data snapshot yet" in caplog.text and list_versions(settings.models_dir) == []


def test_publishes_a_versioned_model_with_metadata(settings):
    load_data(settings)
    result = train(settings)
    assert result.version == 1 and result.promoted and result.metrics["accuracy"] > 0.8
    meta = json.loads((settings.models_dir / "v000001" / "metadata.json").read_text())
    assert meta["snapshot"] == "snapshot-000001.pkl" and meta["task"] == "classification"
    assert meta["feature_names"] == bundled("iris").feature_names
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["sklearn_version"] == sklearn.__version__ and meta["python_version"] == platform.python_version()
    assert len(meta["sha256"]) == 64 and meta["created_at"].endswith("+00:00")
    assert read_pointer(settings.models_dir)["version"] == 1


def test_versions_increase_and_the_pointer_follows(settings):
    load_data(settings)
    train(settings)
    load_data(settings)
    assert train(settings).version == 2
    assert load_latest(settings.models_dir).version == 2


def test_regression_dataset(settings):
    settings = settings.model_copy(update={"dataset": "diabetes"})
    load_data(settings)
    result = train(settings)
    assert set(result.metrics) == {"r2", "mae"}
    assert load_latest(settings.models_dir).metadata["classes"] is None


def test_clearly_worse_model_is_kept_but_not_promoted(settings, caplog):
    load_data(settings)
    train(settings)
    good = bundled("iris")
    shuffled = np.random.default_rng(0).permutation(good.y)  # labels unrelated to the features
    noise = replace(good, y=shuffled)
    write_snapshot(settings.snapshots_dir, noise, next_sequence(settings.snapshots_dir))
    result = train(settings)
    assert result.version == 2 and not result.promoted
    assert read_pointer(settings.models_dir)["version"] == 1
    assert json.loads((settings.models_dir / "v000002" / "metadata.json").read_text())["promoted"] is False
    assert "NOT promoted" in caplog.text


def test_retention_never_deletes_the_live_model(settings):
    settings = settings.model_copy(update={"keep_models": 2})
    load_data(settings)
    train(settings)
    for _ in range(3):  # three worse models after the good one
        noise = replace(bundled("iris"), y=np.random.default_rng(1).permutation(bundled("iris").y))
        write_snapshot(settings.snapshots_dir, noise, next_sequence(settings.snapshots_dir))
        train(settings)
    assert list_versions(settings.models_dir) == [1, 3, 4]
    assert load_latest(settings.models_dir).version == 1
