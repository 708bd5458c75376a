"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlsteps.errors import UserError

STALE_SECONDS = 3600  # a temporary file or folder this old belongs to no running step


def _temp_in(directory: Path, name: str) -> Path:
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    return Path(temp)


def write_temp(path: Path, data: bytes, durable: bool = True) -> Path:
    """`data` in a finished (readable; fsynced when `durable`) temporary file beside `path`, ready to be renamed
    or linked there."""
    temp = _temp_in(path.parent, path.name)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def write_bytes_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write to a temporary file in the same directory, fsync it (when `durable`), then rename it over `path`.

    Without the fsync, a power cut may leave the new name with a short or empty file; a crash of the process
    cannot (the data is in the kernel's cache by then)."""
    temp = write_temp(path, data, durable)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    """A checksum: detects a corrupt file, not a tampered one (anyone can recompute it)."""
    return hashlib.sha256(data).hexdigest()


def hmac_sha256(data: bytes, key: str) -> str:
    """A signature: only a holder of `key` can make it, so a match proves who wrote `data`."""
    return hmac.new(key.encode("utf-8"), data, hashlib.sha256).hexdigest()


@contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock (flock) on `lock_file` while the block runs; other writers wait.

    Written by hand because it is the lesson: "claim a number, publish, move the pointer" must be
    one step for every writer of the volume, or two writers can interleave. The lock is released
    by the kernel if the process dies. Readers (serve) never lock: atomic renames keep them safe.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as error:  # e.g. ENOLCK: an NFS mount without its lock service
            raise UserError(
                f"{lock_file.parent} cannot hold a file lock ({error.strerror}): the volume must support "
                "flock, shared by every machine that mounts it (NFS: mounted with locking on, not nolock)."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_stale(path: Path) -> bool:
    """True for a leftover old enough that no running step can still be writing it."""
    try:
        return time.time() - path.lstat().st_mtime > STALE_SECONDS
    except FileNotFoundError:
        return False


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete the temporary files of writes that were interrupted (see write_bytes_atomic)."""
    removed = [temp for temp in directory.glob(".*.tmp") if temp.is_file() and is_stale(temp)]
    for temp in removed:
        temp.unlink(missing_ok=True)
    return removed
