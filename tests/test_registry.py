"""Model files: only a complete, untampered pickle from this scikit-learn version is ever loaded."""

import json

import pytest
from pydantic import SecretStr

from helpers import volume_keys, volume_read, volume_write
from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.location import models_area
from mlsteps.volume.registry import ModelRejected, load_latest, publish


@pytest.fixture
def settings(volume_settings):
    """Every test here runs twice: on a local folder and on an S3 bucket (SeaweedFS)."""
    return volume_settings


@pytest.fixture
def models(settings):
    return models_area(settings)


@pytest.fixture
def trained(settings, models):
    load_data(settings)
    train(settings)
    return models


def test_loads_the_promoted_model(trained):
    live = load_latest(trained)
    assert live.version == 1 and hasattr(live.model, "predict")


def test_nothing_promoted_yet(settings):
    assert load_latest(models_area(settings)) is None


def test_tampered_pickle_is_refused(trained, settings):
    volume_write(settings, "models/v000001/model.pkl", volume_read(settings, "models/v000001/model.pkl") + b"extra")
    with pytest.raises(ModelRejected, match="sha256 .* does not match .*corrupt or tampered"):
        load_latest(trained)


def test_pickle_and_metadata_both_rewritten_still_fails_the_pointer_checksum(trained, settings):
    meta = json.loads(volume_read(settings, "models/v000001/metadata.json"))
    volume_write(settings, "models/v000001/model.pkl", b"not a pickle")
    meta["sha256"] = "0" * 64
    volume_write(settings, "models/v000001/metadata.json", json.dumps(meta))
    with pytest.raises(ModelRejected):
        load_latest(trained)


def test_other_sklearn_version_is_refused(trained, settings):
    meta = json.loads(volume_read(settings, "models/v000001/metadata.json"))
    meta["sklearn_version"] = "0.24.2"
    volume_write(settings, "models/v000001/metadata.json", json.dumps(meta))
    with pytest.raises(ModelRejected, match="trained with scikit-learn 0.24.2"):
        load_latest(trained)


def test_unreadable_pointer_is_refused(trained, settings):
    volume_write(settings, "models/latest.json", '{"version": "../../etc"}')
    with pytest.raises(ModelRejected, match="no whole-number 'version'"):
        load_latest(trained)


def test_publish_leaves_only_the_model_and_its_metadata(models, settings):
    version = publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=False)
    assert version == 1 and volume_keys(settings, "models/") == [
        "models/v000001/metadata.json",
        "models/v000001/model.pkl",
    ]


def test_a_pickle_whose_metadata_never_came_is_not_a_version_and_is_pruned_once_stale(trained, settings):
    """A trainer killed between the pickle and its metadata: no reader sees v2, and prune removes it when old."""
    from mlsteps.volume.registry import list_versions, prune_models

    volume_write(settings, "models/v000002/model.pkl", b"half a publish")
    assert list_versions(trained) == [1]
    prune_models(trained, keep=5)
    assert "models/v000002/model.pkl" in volume_keys(settings, "models/")  # fresh: its trainer may be writing


# -- one writer at a time: versions in order, a pointer that only moves forwards ----------------------


def publish_many(models, count):
    for _ in range(count):
        publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True)


def test_concurrent_trainers_never_share_a_version_and_the_pointer_ends_on_the_newest(models):
    """Four processes publish at once: on a local folder a lock orders them; on S3 only conditional writes do."""
    import multiprocessing

    from mlsteps.volume.registry import list_versions, read_pointer

    workers = [multiprocessing.get_context("fork").Process(target=publish_many, args=(models, 5)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0] * 4
    assert list_versions(models) == list(range(1, 21))
    assert read_pointer(models)["version"] == 20


def test_a_publish_waits_while_another_writer_holds_the_lock(tmp_path):
    """A local folder only: its writers share a flock, as before the store."""
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


def test_versions_never_go_backwards_on_the_same_volume(models, settings):
    from mlsteps.volume.location import volume_of

    publish_many(models, 3)
    for key in volume_keys(settings, "models/"):  # a clumsy operator empties models/ while serve still shows v3
        volume_of(settings).delete(key)
    assert publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True) == 4


def test_a_failed_publish_leaves_nothing_behind(models, settings):
    with pytest.raises(TypeError):
        publish(models, {"any": "picklable"}, {"not json": object()}, promote=True)
    assert volume_keys(settings, "models/") == []


def test_promoted_is_recorded_only_once_the_pointer_moved(tmp_path):
    """A local folder only: a folder where the pointer belongs makes its write fail."""
    models = tmp_path / "models"
    (models / "latest.json").mkdir(parents=True)  # the pointer cannot be written
    with pytest.raises(OSError):
        publish(models, {"any": "picklable"}, {"sklearn_version": "x"}, promote=True)
    assert json.loads((models / "v000001" / "metadata.json").read_text())["promoted"] is False


def test_the_pointer_never_moves_backwards_nor_to_a_missing_model(models, settings):
    """A slow trainer that claimed v1 promotes it after v2 is live: the pointer stays on v2."""
    from mlsteps.volume.registry import _move_pointer, read_pointer

    publish_many(models, 2)
    assert _move_pointer(models, 1, "0" * 64) is False and read_pointer(models)["version"] == 2
    with pytest.raises(ModelRejected, match="model v9 has no readable metadata.json"):
        _move_pointer(models, 9, "0" * 64)
    assert read_pointer(models)["version"] == 2


def test_a_pointer_that_is_not_an_object_is_refused(trained, settings):
    volume_write(settings, "models/latest.json", "[1, 2]")
    with pytest.raises(ModelRejected, match="no whole-number 'version'"):
        load_latest(trained)


def test_stale_temporary_files_are_pruned(tmp_path):
    """A local folder only (an S3 object is put whole: no temporary file exists)."""
    import os
    import time

    from mlsteps.volume.atomic import STALE_SECONDS
    from mlsteps.volume.registry import prune_models

    trained = tmp_path / "models"
    publish_many(trained, 1)
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
    models = models_area(settings)
    assert read_pointer(models)["version"] == 3
    assert rollback(models, 1).version == 1
    assert read_pointer(models)["version"] == 1 and load_latest(models).version == 1
    assert train(settings).version == 4


def test_rollback_to_a_version_that_is_not_kept_is_refused(trained):
    from mlsteps.volume.registry import rollback

    with pytest.raises(ModelRejected, match=r"there is no model v7 in .* \(kept: v1\)"):
        rollback(trained, 7)


# -- what a model must carry to be loaded ----------------------------------------------------------


@pytest.mark.parametrize(
    "metadata, words", [("[1, 2]", "is not a JSON object"), ('{"version": 1}', "lacks task, feature_names")]
)
def test_metadata_serve_cannot_use_is_refused(trained, settings, metadata, words):
    volume_write(settings, "models/v000001/metadata.json", metadata)
    with pytest.raises(ModelRejected, match=words):
        load_latest(trained)


KEY = "a-learners-signing-key-0123456789"


@pytest.fixture
def signed(settings):
    settings = settings.model_copy(update={"signing_key": SecretStr(KEY)})
    load_data(settings)
    train(settings)
    return models_area(settings)


def test_a_signed_model_loads_with_its_key(signed):
    assert load_latest(signed, signing_key=KEY).version == 1
    assert load_latest(signed).version == 1  # without a key: checksums only, as before


def test_with_a_key_an_unsigned_model_is_refused(trained):
    with pytest.raises(ModelRejected, match="model v1 is unsigned, and MLSTEPS_SIGNING_KEY is set"):
        load_latest(trained, signing_key=KEY)


def test_a_model_signed_with_another_key_or_tampered_is_refused(signed, settings):
    with pytest.raises(ModelRejected, match="signature does not match MLSTEPS_SIGNING_KEY"):
        load_latest(signed, signing_key=KEY + "-other")
    # Someone with write access rewrites the pickle and every checksum, but cannot sign.
    import pickle

    from mlsteps.volume.atomic import sha256_bytes

    blob = pickle.dumps({"evil": True})
    meta = json.loads(volume_read(settings, "models/v000001/metadata.json"))
    volume_write(settings, "models/v000001/model.pkl", blob)
    volume_write(settings, "models/v000001/metadata.json", json.dumps({**meta, "sha256": sha256_bytes(blob)}))
    volume_write(settings, "models/latest.json", json.dumps({"version": 1, "sha256": sha256_bytes(blob)}))
    load_latest(signed)  # the checksum alone is fooled: that is why it is not a signature
    with pytest.raises(ModelRejected, match="signature does not match"):
        load_latest(signed, signing_key=KEY)


# -- rollback and prune at once: no lock spans machines on S3 -------------------------------------------


class PausingStore:
    """The real store, every call passed through, except that one actor's first call matching `pause_at` waits
    until the test releases it: two actors interleave exactly where the test says (no call is faked)."""

    def __init__(self, store, pause_at):
        import threading

        self.store, self.pause_at = store, pause_at
        self.paused, self.release, self.asked_lock = threading.Event(), threading.Event(), threading.Event()

    def __getattr__(self, name):
        attribute = getattr(self.store, name)
        if not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            if not self.paused.is_set() and self.pause_at(name, *args):
                self.paused.set()
                assert self.release.wait(60), "the test never released the paused actor"
            return attribute(*args, **kwargs)

        return call

    def writer_lock(self, name):
        self.asked_lock.set()
        return self.store.writer_lock(name)


def publish_loadable(models, count, promote=True):
    """`count` small models that load as serve and rollback load them (faster than training)."""
    import sklearn
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0.0], [1.0]], ["a", "b"])
    metadata = {
        "task": "classification",
        "feature_names": ["x"],
        "primary_metric": "accuracy",
        "metrics": {"accuracy": 0.5},
        "sklearn_version": sklearn.__version__,
    }
    for _ in range(count):
        publish(models, model, metadata, promote=promote)


def interleave(models, first, second, pause_at):
    """Run `first(area)` until its call matching `pause_at`, then `second(area)`, then let `first` go on.

    On S3 nothing holds `second` back: it runs to its end while `first` waits, the interleaving that used to
    leave the pointer on a deleted model. A local folder's writer lock holds `second` until `first` is done
    (the interleaving cannot happen there): the test then checks that the lock, too, keeps the contract.
    Returns what each raised (None when it finished)."""
    import threading

    from mlsteps.volume.local_store import LocalStore
    from mlsteps.volume.store import Area

    paused = PausingStore(models.store, pause_at)
    held_back = PausingStore(models.store, lambda *_: False)
    errors = {}

    def run(name, action, store):
        try:
            action(Area(store, models.name))
            errors[name] = None
        except Exception as error:
            errors[name] = error

    threads = {
        "first": threading.Thread(target=run, args=("first", first, paused)),
        "second": threading.Thread(target=run, args=("second", second, held_back)),
    }
    threads["first"].start()
    assert paused.paused.wait(60), "the first actor never reached the call to pause at"
    threads["second"].start()
    if isinstance(models.store, LocalStore):
        assert held_back.asked_lock.wait(60)
    else:
        threads["second"].join(60)
        assert "second" in errors, "on S3 the second actor finishes while the first one waits"
    paused.release.set()
    for thread in threads.values():
        thread.join(60)
    return errors["first"], errors["second"]


def assert_the_pointer_names_a_kept_model(models):
    from mlsteps.volume.registry import list_versions, load_latest, read_pointer

    live = read_pointer(models)["version"]
    assert live in list_versions(models), f"latest.json names v{live}, which was deleted"
    assert load_latest(models).version == live


def test_a_rollback_while_a_prune_deletes_never_leaves_the_pointer_on_a_deleted_model(models):
    """prune has read the pointer (v3) and chosen v1 and v2; a rollback to v1 comes before its deletes."""
    from mlsteps.volume.local_store import LocalStore
    from mlsteps.volume.registry import prune_models, rollback

    publish_loadable(models, 3)
    pruned, rolled = interleave(
        models,
        lambda area: prune_models(area, keep=1),
        lambda area: rollback(area, 1),
        lambda call, *_: call == "delete",
    )
    assert pruned is None
    assert_the_pointer_names_a_kept_model(models)
    assert isinstance(rolled, ModelRejected), rolled
    why = "no model v1" if isinstance(models.store, LocalStore) else "v1 is being deleted by retention"
    assert why in str(rolled), rolled  # a folder: the lock made it wait until v1 was gone


def test_a_prune_while_a_rollback_moves_the_pointer_never_leaves_it_on_a_deleted_model(models):
    """A rollback to v1 has checked v1 and read the pointer; a prune deletes v1 before the rollback's swap."""
    from mlsteps.volume.local_store import LocalStore
    from mlsteps.volume.registry import list_versions, prune_models, read_pointer, rollback

    publish_loadable(models, 3)
    rolled, pruned = interleave(
        models,
        lambda area: rollback(area, 1),
        lambda area: prune_models(area, keep=1),
        lambda call, key="", *_: call == "replace_if" and key.endswith("latest.json"),
    )
    assert pruned is None
    assert_the_pointer_names_a_kept_model(models)
    if isinstance(models.store, LocalStore):  # the lock let the rollback finish first, so prune kept v1 (live)
        assert rolled is None and read_pointer(models)["version"] == 1 and list_versions(models) == [1, 3]
    else:  # the prune's fence made the rollback read the pointer again, and v1 was gone
        assert isinstance(rolled, ModelRejected) and "no readable metadata.json" in str(rolled), rolled
        assert list_versions(models) == [3]


def test_a_slow_rollback_never_brings_back_the_metadata_of_a_version_pruned_meanwhile(models):
    """A rollback to v2 has moved the pointer; before it records v2 as promoted, a publish moves the pointer on
    and a prune deletes v2. The record is written only over the metadata read, so v2 does not come back as a
    version without its pickle."""
    from mlsteps.volume.registry import list_versions, load_version, prune_models, read_metadata, rollback

    publish_loadable(models, 1)
    publish_loadable(models, 1, promote=False)  # v2, never promoted: the rollback records it
    publish_loadable(models, 1)
    assert read_metadata(models, 2)["promoted"] is False

    def publish_and_prune(area):
        publish_loadable(area, 1)
        prune_models(area, keep=1)

    rolled, moved_on = interleave(
        models,
        lambda area: rollback(area, 2),
        publish_and_prune,
        lambda call, key="", *_: call in ("put", "replace_if") and key.endswith("v000002/metadata.json"),
    )
    assert rolled is None and moved_on is None
    assert list_versions(models) == [4]
    assert load_version(models, 4).version == 4
    assert_the_pointer_names_a_kept_model(models)
