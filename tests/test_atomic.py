"""Atomic writes: a reader running alongside a writer only ever sees a whole old or a whole new file."""

import threading

from mlsteps.volume.atomic import write_bytes_atomic

OLD, NEW = b"a" * 1_000_000, b"b" * 2_000_000


def test_reader_never_sees_half_a_file(tmp_path):
    path = tmp_path / "model.pkl"
    write_bytes_atomic(path, OLD)
    seen, done = set(), threading.Event()

    def read_while_writing():
        while not done.is_set():
            data = path.read_bytes()
            seen.add((len(data), data[:1], data[-1:]))

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    for i in range(60):
        write_bytes_atomic(path, NEW if i % 2 else OLD)
    done.set()
    reader.join()
    assert seen <= {(len(OLD), b"a", b"a"), (len(NEW), b"b", b"b")}
    assert len(seen) == 2, "the reader should have seen both versions"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]  # no temporary file left


def test_models_and_snapshots_reach_the_disk_and_the_prediction_log_does_not_wait_for_it(tmp_path, monkeypatch):
    """fsync for what a power cut must not take (models, snapshots, the pointer); not for the log's batches."""
    import os

    from mlsteps.volume.local_store import LocalStore
    from mlsteps.volume.prediction_log import REQUESTS, put_batch

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    store = LocalStore(tmp_path)
    store.put("models/latest.json", b"{}")
    assert len(synced) == 1
    put_batch(tmp_path / "predictions", REQUESTS, "20261129T000000.000000Z-w-1.jsonl", [{"request_id": "a"}])
    written = list((tmp_path / "predictions").rglob("*.jsonl"))
    assert len(synced) == 1 and [path.read_bytes() for path in written] == [b'{"request_id":"a"}\n']
