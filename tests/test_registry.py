"""Model files: only a complete, untampered pickle from this scikit-learn version is ever loaded."""

import json

import pytest
from pydantic import SecretStr

from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.registry import ModelRejected, load_latest, publish


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
    models = tmp_path / "models"
    version = publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=False)
    assert version == 1 and sorted(p.name for p in models.iterdir()) == ["v000001"]


def test_stale_staging_folders_are_cleaned_but_fresh_ones_kept(trained):
    import os
    import time

    from mlsteps.volume.atomic import STALE_SECONDS
    from mlsteps.volume.registry import prune_models

    stale, fresh = trained / ".staging-old", trained / ".staging-new"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - STALE_SECONDS - 60,) * 2)
    prune_models(trained, keep=5)
    assert not stale.exists() and fresh.exists()


# -- one writer at a time: versions in order, a pointer that only moves forwards ----------------------


def publish_many(models_dir, count):
    for _ in range(count):
        publish(models_dir, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True)


def test_concurrent_trainers_never_share_a_version_and_the_pointer_ends_on_the_newest(tmp_path):
    import multiprocessing

    from mlsteps.volume.registry import list_versions, read_pointer

    models = tmp_path / "models"
    workers = [multiprocessing.get_context("fork").Process(target=publish_many, args=(models, 5)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert list_versions(models) == list(range(1, 21))
    assert read_pointer(models)["version"] == 20


def test_a_publish_waits_while_another_writer_holds_the_lock(tmp_path):
    import threading
    import time

    from mlsteps.volume.atomic import locked
    from mlsteps.volume.registry import list_versions

    models = tmp_path / "models"
    with locked(tmp_path / ".models.lock"):
        writer = threading.Thread(target=publish_many, args=(models, 1))
        writer.start()
        time.sleep(0.3)
        assert list_versions(models) == []
    writer.join(10)
    assert list_versions(models) == [1]


def test_versions_never_go_backwards_on_the_same_volume(tmp_path):
    import shutil

    models = tmp_path / "models"
    publish_many(models, 3)
    shutil.rmtree(models)  # a clumsy operator empties models/ while serve still shows v3
    assert publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True) == 4


def test_a_failed_publish_leaves_nothing_behind(tmp_path):
    models = tmp_path / "models"
    with pytest.raises(TypeError):
        publish(models, {"any": "picklable"}, {"not json": object()}, promote=True)
    assert list(models.iterdir()) == []


def test_promoted_is_recorded_only_once_the_pointer_moved(tmp_path):
    models = tmp_path / "models"
    (models / "latest.json").mkdir(parents=True)  # the pointer cannot be written
    with pytest.raises(OSError):
        publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True)
    assert json.loads((models / "v000001" / "metadata.json").read_text())["promoted"] is False


def test_a_pointer_that_is_not_an_object_is_refused(trained):
    (trained / "latest.json").write_text("[1, 2]")
    with pytest.raises(ModelRejected, match="no whole-number 'version'"):
        load_latest(trained)


def test_stale_leftovers_of_every_kind_are_pruned(trained):
    import os
    import time

    from mlsteps.volume.atomic import STALE_SECONDS
    from mlsteps.volume.registry import prune_models

    stale_pointer_temp, fresh_pointer_temp = trained / ".latest.json.abc.tmp", trained / ".latest.json.def.tmp"
    stale_pointer_temp.write_text("{")
    fresh_pointer_temp.write_text("{")
    os.utime(stale_pointer_temp, (time.time() - STALE_SECONDS - 60,) * 2)
    prune_models(trained, keep=5)
    assert not stale_pointer_temp.exists() and fresh_pointer_temp.exists()


# -- rollback: the one way back ----------------------------------------------------------------------


def test_rollback_moves_the_pointer_back_and_the_next_version_is_still_newer(settings):
    from mlsteps.volume.registry import read_pointer, rollback

    for _ in range(3):
        load_data(settings)
        train(settings)
    assert read_pointer(settings.models_dir)["version"] == 3
    assert rollback(settings.models_dir, 1).version == 1
    assert read_pointer(settings.models_dir)["version"] == 1 and load_latest(settings.models_dir).version == 1
    assert train(settings).version == 4


def test_rollback_to_a_version_that_is_not_kept_is_refused(trained):
    from mlsteps.volume.registry import rollback

    with pytest.raises(ModelRejected, match=r"there is no model v7 in .* \(kept: v1\)"):
        rollback(trained, 7)


# -- what a model must carry to be loaded ----------------------------------------------------------


@pytest.mark.parametrize(
    "metadata, words", [("[1, 2]", "is not a JSON object"), ('{"version": 1}', "lacks task, feature_names")]
)
def test_metadata_serve_cannot_use_is_refused(trained, metadata, words):
    (trained / "v000001" / "metadata.json").write_text(metadata)
    with pytest.raises(ModelRejected, match=words):
        load_latest(trained)


KEY = "a-learners-signing-key-0123456789"


@pytest.fixture
def signed(settings):
    settings = settings.model_copy(update={"signing_key": SecretStr(KEY)})
    load_data(settings)
    train(settings)
    return settings.models_dir


def test_a_signed_model_loads_with_its_key(signed):
    assert load_latest(signed, signing_key=KEY).version == 1
    assert load_latest(signed).version == 1  # without a key: checksums only, as before


def test_with_a_key_an_unsigned_model_is_refused(trained):
    with pytest.raises(ModelRejected, match="model v1 is unsigned, and MLSTEPS_SIGNING_KEY is set"):
        load_latest(trained, signing_key=KEY)


def test_a_model_signed_with_another_key_or_tampered_is_refused(signed):
    with pytest.raises(ModelRejected, match="signature does not match MLSTEPS_SIGNING_KEY"):
        load_latest(signed, signing_key=KEY + "-other")
    # Someone with write access rewrites the pickle and every checksum, but cannot sign.
    import pickle

    from mlsteps.volume.atomic import sha256_bytes

    folder = signed / "v000001"
    blob = pickle.dumps({"evil": True})
    meta = json.loads((folder / "metadata.json").read_text())
    (folder / "model.pkl").write_bytes(blob)
    (folder / "metadata.json").write_text(json.dumps({**meta, "sha256": sha256_bytes(blob)}))
    (signed / "latest.json").write_text(json.dumps({"version": 1, "sha256": sha256_bytes(blob)}))
    load_latest(signed)  # the checksum alone is fooled: that is why it is not a signature
    with pytest.raises(ModelRejected, match="signature does not match"):
        load_latest(signed, signing_key=KEY)
