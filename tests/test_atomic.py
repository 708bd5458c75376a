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
