"""The load-data step: numbered snapshots, written atomically, newest N kept."""

import json

from mlsteps.cli import main
from mlsteps.load_data import load_data
from mlsteps.volume.snapshots import list_snapshots, read_snapshot


def test_each_run_adds_a_complete_snapshot(settings):
    first = load_data(settings)
    second = load_data(settings)
    assert [p.name for p in list_snapshots(settings.snapshots_dir)] == [first.name, second.name]
    meta = json.loads(second.read_text())
    assert meta["sequence"] == 2 and meta["rows"] == settings.samples_per_snapshot
    table, _ = read_snapshot(second)
    assert table.X.shape == (settings.samples_per_snapshot, 4) and table.task == "classification"


def test_no_temporary_file_is_left_behind(settings):
    load_data(settings)
    assert not [p for p in settings.snapshots_dir.iterdir() if p.name.startswith(".")]


def test_retention_keeps_the_newest(settings):
    settings = settings.model_copy(update={"keep_snapshots": 2})
    for _ in range(4):
        load_data(settings)
    names = sorted(p.name for p in settings.snapshots_dir.iterdir())
    assert names == ["snapshot-000003.json", "snapshot-000003.pkl", "snapshot-000004.json", "snapshot-000004.pkl"]


def test_data_without_its_sidecar_is_not_a_snapshot(settings):
    load_data(settings)
    (settings.snapshots_dir / "snapshot-000002.pkl").write_bytes(b"half written")
    assert [p.name for p in list_snapshots(settings.snapshots_dir)] == ["snapshot-000001.json"]


def test_learners_csv_becomes_a_snapshot(settings, tmp_path):
    source = tmp_path / "mine.csv"
    source.write_text("x,y,label\n" + "".join(f"{i},{i % 3},{'a' if i < 10 else 'b'}\n" for i in range(20)))
    path = load_data(settings.model_copy(update={"dataset": f"csv:{source}", "target_column": "label"}))
    table, meta = read_snapshot(path)
    assert meta["source"] == f"csv:{source}" and table.feature_names == ["x", "y"] and len(table.y) == 20


def test_cli_bad_csv_is_bad_input_one_line_exit_2(settings, tmp_path, capsys):
    """A bad row is bad input the user must fix (exit 2), like a bad setting; a run-time failure is 1."""
    source = tmp_path / "bad.csv"
    source.write_text("x,target\n" + "1,a\n" * 10 + "1e999,b\n")
    assert main(["load-data", "--dataset", f"csv:{source}", "--data-dir", str(settings.data_dir)]) == 2
    err = capsys.readouterr().err
    assert "line 12, column 'x': '1e999' is not a finite number" in err and "Traceback" not in err


def test_concurrent_runs_never_reuse_a_snapshot_number(settings):
    import multiprocessing

    workers = [multiprocessing.get_context("fork").Process(target=load_data, args=(settings,)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    sequences = [json.loads(p.read_text())["sequence"] for p in list_snapshots(settings.snapshots_dir)]
    assert sequences == [1, 2, 3, 4]


def test_a_stale_data_file_without_its_sidecar_is_pruned(settings):
    import os
    import time

    from mlsteps.volume.atomic import STALE_SECONDS

    load_data(settings)
    orphan = settings.snapshots_dir / "snapshot-000009.pkl"
    orphan.write_bytes(b"half written")
    os.utime(orphan, (time.time() - STALE_SECONDS - 60,) * 2)
    load_data(settings)
    assert not orphan.exists()
