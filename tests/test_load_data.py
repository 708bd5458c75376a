"""The load-data step: numbered snapshots, written atomically, newest N kept."""

import json

import pytest

from helpers import volume_keys, volume_read, volume_write
from mlsteps.cli import main
from mlsteps.load_data import load_data
from mlsteps.volume.location import snapshots_area
from mlsteps.volume.snapshots import list_snapshots, read_snapshot


def folder_settings(tmp_path, monkeypatch):
    """Settings on a temporary folder, for the one test a bucket cannot run."""
    from helpers import clear_mlsteps_variables
    from mlsteps.config import load_settings

    clear_mlsteps_variables(monkeypatch)
    monkeypatch.setenv("MLSTEPS_DATA_DIR", str(tmp_path / "volume"))
    return load_settings()


@pytest.fixture
def settings(volume_settings):
    """Every test here runs twice: on a local folder and on an S3 bucket (SeaweedFS)."""
    return volume_settings


def test_each_run_adds_a_complete_snapshot(settings):
    first = load_data(settings)
    second = load_data(settings)
    assert (
        list_snapshots(snapshots_area(settings)) == [first, second] == ["snapshot-000001.json", "snapshot-000002.json"]
    )
    meta = json.loads(volume_read(settings, f"data/{second}"))
    assert meta["sequence"] == 2 and meta["rows"] == settings.samples_per_snapshot
    table, _ = read_snapshot(snapshots_area(settings), second)
    assert table.X.shape == (settings.samples_per_snapshot, 4) and table.task == "classification"


def test_no_temporary_file_is_left_behind(settings):
    load_data(settings)
    if not settings.store:  # a folder: no hidden temporary file beside the snapshot (S3 has none to leave)
        assert not [p for p in settings.snapshots_dir.iterdir() if p.name.startswith(".")]
    assert volume_keys(settings, "data/") == ["data/snapshot-000001.json", "data/snapshot-000001.pkl"]


def test_retention_keeps_the_newest(settings):
    settings = settings.model_copy(update={"keep_snapshots": 2})
    for _ in range(4):
        load_data(settings)
    names = [key.removeprefix("data/") for key in volume_keys(settings, "data/")]
    assert names == ["snapshot-000003.json", "snapshot-000003.pkl", "snapshot-000004.json", "snapshot-000004.pkl"]


def test_data_without_its_sidecar_is_not_a_snapshot(settings):
    load_data(settings)
    volume_write(settings, "data/snapshot-000002.pkl", b"half written")
    assert list_snapshots(snapshots_area(settings)) == ["snapshot-000001.json"]


def test_learners_csv_becomes_a_snapshot(settings, tmp_path):
    source = tmp_path / "mine.csv"
    source.write_text("x,y,label\n" + "".join(f"{i},{i % 3},{'a' if i < 10 else 'b'}\n" for i in range(20)))
    sidecar = load_data(settings.model_copy(update={"dataset": f"csv:{source}", "target_column": "label"}))
    table, meta = read_snapshot(snapshots_area(settings), sidecar)
    assert meta["source"] == f"csv:{source}" and table.feature_names == ["x", "y"] and len(table.y) == 20


def test_cli_bad_csv_is_bad_input_one_line_exit_2(settings, tmp_path, capsys):
    """A bad row is bad input the user must fix (exit 2), like a bad setting; a run-time failure is 1."""
    source = tmp_path / "bad.csv"
    source.write_text("x,target\n" + "1,a\n" * 10 + "1e999,b\n")
    assert main(["load-data", "--dataset", f"csv:{source}", "--data-dir", str(settings.data_dir)]) == 2
    err = capsys.readouterr().err
    assert "line 12, column 'x': '1e999' is not a finite number" in err and "Traceback" not in err


def test_concurrent_runs_never_reuse_a_snapshot_number(settings):
    """Four load-datas at once: a lock orders them on a folder; on S3 the conditional write of each number does."""
    import multiprocessing

    workers = [multiprocessing.get_context("fork").Process(target=load_data, args=(settings,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0] * 4
    data = snapshots_area(settings)
    sequences = [json.loads(volume_read(settings, f"data/{name}"))["sequence"] for name in list_snapshots(data)]
    assert sequences == [1, 2, 3, 4]


def test_a_stale_data_file_without_its_sidecar_is_pruned(tmp_path, monkeypatch):
    """A folder only: an S3 object's time cannot be set back (test_registry keeps fresh orphans on both)."""
    import os
    import time

    from mlsteps.volume.atomic import STALE_SECONDS

    settings = folder_settings(tmp_path, monkeypatch)
    load_data(settings)
    orphan = settings.snapshots_dir / "snapshot-000009.pkl"
    orphan.write_bytes(b"half written")
    os.utime(orphan, (time.time() - STALE_SECONDS - 60,) * 2)
    load_data(settings)
    assert not orphan.exists()
