"""Model files: only a complete, untampered pickle from this scikit-learn version is ever loaded."""

import json

import pytest

from mlsteps.load_data import load_data
from mlsteps.registry import ModelRejected, load_latest, publish
from mlsteps.train import train


@pytest.fixture
def trained(settings):
    load_data(settings)
    train(settings)
    return settings.models_dir


def test_loads_the_promoted_model(trained):
    live = load_latest(trained)
    assert live.version == 1 and hasattr(live.model, "predict")


def test_nothing_promoted_yet(settings):
    assert load_latest(settings.models_dir) is None


def test_tampered_pickle_is_refused(trained):
    pickle_file = trained / "v000001" / "model.pkl"
    pickle_file.write_bytes(pickle_file.read_bytes() + b"extra")
    with pytest.raises(ModelRejected, match="sha256 .* does not match .*corrupt or tampered"):
        load_latest(trained)


def test_pickle_and_metadata_both_rewritten_still_fails_the_pointer_checksum(trained):
    folder = trained / "v000001"
    meta = json.loads((folder / "metadata.json").read_text())
    (folder / "model.pkl").write_bytes(b"not a pickle")
    meta["sha256"] = "0" * 64
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelRejected):
        load_latest(trained)


def test_other_sklearn_version_is_refused(trained):
    path = trained / "v000001" / "metadata.json"
    meta = json.loads(path.read_text())
    meta["sklearn_version"] = "0.24.2"
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelRejected, match="trained with scikit-learn 0.24.2"):
        load_latest(trained)


def test_unreadable_pointer_is_refused(trained):
    (trained / "latest.json").write_text('{"version": "../../etc"}')
    with pytest.raises(ModelRejected, match="no whole-number 'version'"):
        load_latest(trained)


def test_publish_leaves_no_staging_folder(tmp_path):
    version = publish(tmp_path, {"any": "picklable"}, {"sklearn_version": "x"}, promote=False)
    assert version == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["v000001"]


def test_stale_staging_folders_are_cleaned_but_fresh_ones_kept(trained):
    import os
    import time

    from mlsteps.atomic import STALE_SECONDS
    from mlsteps.registry import prune_models

    stale, fresh = trained / ".staging-old", trained / ".staging-new"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - STALE_SECONDS - 60,) * 2)
    prune_models(trained, keep=5)
    assert not stale.exists() and fresh.exists()
