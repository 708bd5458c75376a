"""The live model: what answers requests, swapped whole, and why the last model tried was refused."""

import numpy as np
import pytest

from helpers import volume_keys, volume_write
from mlsteps.load_data import load_data
from mlsteps.load_data.datasets import bundled
from mlsteps.serve.live_model import LiveModel
from mlsteps.serve.scoring import predict
from mlsteps.train import train
from mlsteps.volume.location import models_area, volume_of


@pytest.fixture
def settings(volume_settings):
    """Every test here runs twice: on a local folder and on an S3 bucket (SeaweedFS)."""
    return volume_settings


def test_the_served_model_answers_like_scikit_learn_through_its_fast_scorer(settings):
    load_data(settings)
    train(settings)
    live = LiveModel(models_area(settings))
    assert live.refresh() and live.current.version == 1 and live.current.scorer is not None
    X = bundled("iris").X[:20]
    answer = predict(live.current, X)
    assert np.allclose(answer["probabilities"], live.current.loaded.model.predict_proba(X), atol=1e-4)


def test_a_refusal_is_remembered_until_a_model_loads(settings):
    load_data(settings)
    train(settings)
    volume_write(settings, "models/v000001/model.pkl", b"\x80\x04evil")
    live = LiveModel(models_area(settings))
    assert live.refresh() is False and live.current is None
    assert live.refused.startswith("model v1: model.pkl sha256") and live.rejected == 1
    train(settings)
    assert live.refresh() and live.current.version == 2 and live.refused is None


def test_with_a_signing_key_serve_refuses_unsigned_models_and_loads_signed_ones(settings):
    from pydantic import SecretStr

    key = "serve-and-train-share-this-key"
    load_data(settings)
    train(settings)  # unsigned
    live = LiveModel(models_area(settings), signing_key=key)
    assert live.refresh() is False and "model v1 is unsigned, and MLSTEPS_SIGNING_KEY is set" in live.refused
    train(settings.model_copy(update={"signing_key": SecretStr(key)}))
    assert live.refresh() and live.current.version == 2 and "signature" in live.current.metadata


def test_a_deleted_models_folder_is_logged_once_and_versions_carry_on(settings, caplog):
    load_data(settings)
    train(settings)
    live = LiveModel(models_area(settings))
    live.refresh()
    for key in volume_keys(settings, "models/"):
        volume_of(settings).delete(key)
    live.refresh()
    live.refresh()
    assert caplog.text.count("latest.json is gone from the volume; still serving v1") == 1
    assert train(settings).version == 2 and live.refresh() and live.current.version == 2


def test_a_pointer_naming_a_missing_model_keeps_the_served_one_and_is_logged_once(settings, caplog):
    """The registry never lets this happen (test_registry.py's rollback-and-prune tests); if a hand does, serve
    keeps answering with what it has."""
    load_data(settings)
    train(settings)
    live = LiveModel(models_area(settings))
    assert live.refresh() and live.current.version == 1
    volume_write(settings, "models/latest.json", '{"version": 7, "folder": "v000007", "sha256": "' + "0" * 64 + '"}')
    assert live.refresh() is False and live.refresh() is False
    assert live.current.version == 1 and live.rejected == 1
    assert caplog.text.count("refused model: model v7 is incomplete or unreadable") == 1
    assert "still serving v1" in caplog.text
