"""Snapshots on the volume: pickles of numpy arrays, read only when their sidecar vouches for them."""

import json
import pickle

import numpy as np
import pytest

from mlsteps.load_data import load_data
from mlsteps.train import train
from mlsteps.volume.atomic import sha256_bytes
from mlsteps.volume.snapshots import SnapshotRejected, read_snapshot


class Payload:
    """What an attacker would put in a pickle: something that runs code when loaded."""

    def __reduce__(self):
        return (print, ("this ran while unpickling",))


def rewrite(sidecar, obj):
    """Replace a snapshot's data and fix its checksum, as someone with write access to the volume could."""
    meta = json.loads(sidecar.read_text())
    blob = pickle.dumps(obj)
    (sidecar.parent / meta["file"]).write_bytes(blob)
    sidecar.write_text(json.dumps({**meta, "sha256": sha256_bytes(blob)}))


def test_a_snapshot_reads_back_the_same_arrays(settings):
    sidecar = load_data(settings)
    table, meta = read_snapshot(sidecar)
    assert meta["file"] == "snapshot-000001.pkl" and table.X.dtype == float and table.X.shape == (300, 4)
    assert set(np.unique(table.y)) == {"setosa", "versicolor", "virginica"}


def test_damaged_data_is_refused(settings):
    sidecar = load_data(settings)
    data = sidecar.with_suffix(".pkl")
    data.write_bytes(data.read_bytes()[:-1] + b"x")
    with pytest.raises(SnapshotRejected, match=r"sha256 in snapshot-000001.json \(corrupt or tampered\)"):
        read_snapshot(sidecar)


def test_a_pickle_that_names_anything_but_numpy_arrays_is_refused(settings, capsys):
    sidecar = load_data(settings)
    rewrite(sidecar, {"X": np.zeros((3, 4)), "y": Payload()})
    with pytest.raises(SnapshotRejected, match="names builtins.print, and a snapshot may hold only numpy arrays"):
        read_snapshot(sidecar)
    assert "this ran" not in capsys.readouterr().out


def test_train_skips_a_refused_snapshot_and_says_so(settings, caplog):
    load_data(settings)
    newest = load_data(settings)
    rewrite(newest, {"X": Payload(), "y": None})
    result = train(settings)
    assert result.version == 1 and "skipping a snapshot: snapshot-000002.pkl is refused" in caplog.text
