"""The train step: a model per run, full metadata, an honest holdout, and no promotion of a clearly worse model."""

import json
import platform
from dataclasses import replace

import numpy as np
import pytest
import sklearn

from mlsteps.load_data import load_data
from mlsteps.load_data.datasets import bundled
from mlsteps.train import train
from mlsteps.train.split import holdout_mask
from mlsteps.volume.registry import list_versions, load_latest, load_version, read_pointer
from mlsteps.volume.snapshots import list_snapshots, next_sequence, read_snapshot, write_snapshot


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


LEARNER = """
from sklearn.dummy import DummyClassifier
def guesser(task): return DummyClassifier(strategy="uniform", random_state=0)
"""


@pytest.fixture
def worse(learner_code):
    """MLSTEPS_PIPELINE naming a learner's model that guesses at random: clearly worse than the default."""
    return learner_code("learner_worse", LEARNER) + ":guesser"


def test_clearly_worse_model_is_kept_but_not_promoted(settings, caplog, worse):
    load_data(settings)
    train(settings)
    result = train(settings.model_copy(update={"pipeline": worse}))
    assert result.version == 2 and not result.promoted
    assert read_pointer(settings.models_dir)["version"] == 1
    record = json.loads((settings.models_dir / "v000002" / "metadata.json").read_text())
    assert record["promoted"] is False and record["compared_with"]["version"] == 1
    assert "NOT promoted" in caplog.text and "live v1 has" in caplog.text and "on the same holdout" in caplog.text


def test_the_gate_scores_the_live_model_on_the_newest_holdout_not_its_own_old_score(settings):
    """Labels turned to noise: the live model scores as badly on them as the new one, so the new one goes live."""
    load_data(settings)
    train(settings)
    noise = replace(bundled("iris"), y=np.random.default_rng(0).permutation(bundled("iris").y))
    write_snapshot(settings.snapshots_dir, noise, next_sequence(settings.snapshots_dir))
    result = train(settings)
    record = load_latest(settings.models_dir).metadata
    assert result.promoted and record["version"] == 2 and record["compared_with"]["accuracy"] < 0.6
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    held = holdout_mask(table, settings.seed)
    live = load_version(settings.models_dir, 1).model
    assert record["compared_with"]["accuracy"] == round(float((live.predict(table.X[held]) == table.y[held]).mean()), 4)


def test_retention_never_deletes_the_live_model(settings, worse):
    settings = settings.model_copy(update={"keep_models": 2})
    load_data(settings)
    train(settings)
    for _ in range(3):  # three worse models after the good one
        train(settings.model_copy(update={"pipeline": worse}))
    assert list_versions(settings.models_dir) == [1, 3, 4]
    assert load_latest(settings.models_dir).version == 1


def test_the_holdout_never_holds_a_copy_of_a_training_row(settings):
    """Simulated rows are drawn with replacement: copies of one base row all land on one side of the split."""
    load_data(settings)
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    held = holdout_mask(table, settings.seed)
    assert len(np.unique(table.groups)) < len(table.groups)  # there are copies to keep together
    assert not set(table.groups[held]) & set(table.groups[~held])
    assert 0.1 < held.mean() < 0.4  # about a quarter: whole groups, so not exactly


def test_a_row_is_held_out_in_every_snapshot_or_in_none(settings):
    """The side is fixed by the row's group: the live model (an older snapshot's) never fitted the newest holdout."""
    load_data(settings)
    load_data(settings)
    (first, _), (second, _) = (
        read_snapshot(settings.snapshots_dir, name) for name in list_snapshots(settings.snapshots_dir)
    )
    trained_on = set(first.groups[~holdout_mask(first, settings.seed)])
    assert not trained_on & set(second.groups[holdout_mask(second, settings.seed)])


def test_identical_rows_of_a_table_stay_on_one_side(tmp_path, settings):
    source = tmp_path / "repeats.csv"
    source.write_text("a,b,target\n" + "".join(f"{i % 10},{i % 10 * 2},{i % 2}\n" for i in range(60)))
    load_data(settings.model_copy(update={"dataset": f"csv:{source}"}))
    table, _ = read_snapshot(settings.snapshots_dir, list_snapshots(settings.snapshots_dir)[-1])
    held = holdout_mask(table, settings.seed)
    rows = [tuple(r) for r in table.X.to_numpy()]
    assert 0 < held.sum() < len(held)
    assert not {rows[i] for i in np.flatnonzero(held)} & {rows[i] for i in np.flatnonzero(~held)}
