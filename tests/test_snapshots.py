"""Snapshots on the volume: pickles of named numpy arrays, read only when their sidecar vouches for them."""

import json
import pickle

import numpy as np
import pytest

from helpers import volume_read, volume_write
from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.atomic import sha256_bytes
from mlsteps.volume.location import snapshots_area
from mlsteps.volume.snapshots import SnapshotRejected
from mlsteps.volume.snapshots import read_snapshot as read_from


@pytest.fixture
def settings(volume_settings):
    """Every test here runs twice: on a local folder and on an S3 bucket (SeaweedFS)."""
    return volume_settings


class Payload:
    """What an attacker would put in a pickle: something that runs code when loaded."""

    def __reduce__(self):
        return (print, ("this ran while unpickling",))


def rewrite(settings, sidecar, obj):
    """Replace a snapshot's data and fix its checksum, as someone with write access to the volume could."""
    meta = json.loads(volume_read(settings, f"data/{sidecar}"))
    blob = pickle.dumps(obj)
    volume_write(settings, f"data/{meta['file']}", blob)
    volume_write(settings, f"data/{sidecar}", json.dumps({**meta, "sha256": sha256_bytes(blob)}))


def read_snapshot(settings, sidecar):
    return read_from(snapshots_area(settings), sidecar)


def test_a_snapshot_reads_back_the_same_arrays(settings):
    sidecar = load_data(settings)
    table, meta = read_snapshot(settings, sidecar)
    assert meta["file"] == "snapshot-000001.pkl" and table.X.shape == (300, 4)
    assert (table.X.dtypes == np.float64).all() and list(table.X.columns) == meta["feature_names"]
    assert set(np.unique(table.y)) == {"setosa", "versicolor", "virginica"} and len(table.groups) == 300


def test_text_and_missing_values_are_stored_as_strings_and_none_and_read_back(settings, tmp_path):
    """Text is kept as Python strings, a missing value as None (text) or NaN (numbers): no pandas object is pickled."""
    source = tmp_path / "mixed.csv"
    source.write_text(
        "colour,size,target\n"
        + "".join(f"{['red', 'NA', 'blue'][i % 3]},{i if i % 4 else ''},{i % 2}\n" for i in range(12))
    )
    sidecar = load_data(settings.model_copy(update={"dataset": f"csv:{source}"}))
    stored = pickle.loads(volume_read(settings, f"data/{sidecar.removesuffix('.json')}.pkl"))
    assert stored["columns"]["colour"].tolist()[:3] == ["red", None, "blue"]
    assert np.isnan(stored["columns"]["size"][0]) and stored["columns"]["size"][1] == 1.0
    table, meta = read_snapshot(settings, sidecar)
    assert meta["features"][0] == {"name": "colour", "type": "text", "categories": ["blue", "red"]}
    assert table.X["colour"].isna().sum() == 4 and table.y.tolist()[:3] == [0, 1, 0]


def test_an_object_other_than_text_in_a_column_is_refused(settings):
    sidecar = load_data(settings)
    meta = json.loads(volume_read(settings, f"data/{sidecar}"))
    columns = {name: np.zeros(3) for name in meta["feature_names"]}
    columns[meta["feature_names"][0]] = np.array([1, b"bytes", None], dtype=object)
    rewrite(settings, sidecar, {"columns": columns})
    with pytest.raises(SnapshotRejected, match="holds something other than text and missing values"):
        read_snapshot(settings, sidecar)


def test_damaged_data_is_refused(settings):
    sidecar = load_data(settings)
    data = f"data/{sidecar.removesuffix('.json')}.pkl"
    volume_write(settings, data, volume_read(settings, data)[:-1] + b"x")
    with pytest.raises(SnapshotRejected, match=r"sha256 in snapshot-000001.json \(corrupt or tampered\)"):
        read_snapshot(settings, sidecar)


def test_a_pickle_that_names_anything_but_numpy_arrays_is_refused(settings, capsys):
    sidecar = load_data(settings)
    rewrite(settings, sidecar, {"X": np.zeros((3, 4)), "y": Payload()})
    with pytest.raises(SnapshotRejected, match="names builtins.print, and a snapshot may hold only numpy arrays"):
        read_snapshot(settings, sidecar)
    assert "this ran" not in capsys.readouterr().out


def test_train_skips_a_refused_snapshot_and_says_so(settings, caplog):
    load_data(settings)
    newest = load_data(settings)
    rewrite(settings, newest, {"X": Payload(), "y": None})
    result = train(settings)
    assert result.version == 1 and "skipping a snapshot: snapshot-000002.pkl is refused" in caplog.text
