"""The volume as a local folder (MLSTEPS_DATA_DIR, the default): each key a file, written whole (atomic.py).

The same contract as the S3 store, with what one kernel gives: `put_if_absent` links a finished
temporary file to its name (a link fails if the name exists), and `replace_if` compares and replaces
under a flock, so two processes sharing the folder never both win.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from stat import S_ISREG

from mlsteps.config import ensure_writable_dir
from mlsteps.volume.atomic import locked, remove_stale_temp_files, write_bytes_atomic, write_temp
from mlsteps.volume.store import UNCHANGED, Versioned

COMPARE_LOCK = ".compare-and-swap.lock"


def _stamp(path: Path) -> str | None:
    """A file's version tag without reading it: inode, change time and size (a replace is a new inode)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"


class LocalStore:
    """Keys are paths under `root`; temporary files start with a dot and are never listed."""

    def __init__(self, root: Path):
        self.root = root
        self.where = str(root)

    def path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def get(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def get_versioned(self, key: str) -> Versioned | None:
        path = self.path(key)
        stamp = _stamp(path)  # before reading: a change in between shows as a new stamp next time
        data = self.get(key)
        return None if data is None or stamp is None else Versioned(data, stamp)

    def get_if_changed(self, key: str, etag: str | None) -> Versioned | None:
        if etag is not None and _stamp(self.path(key)) == etag:
            return UNCHANGED
        return self.get_versioned(key)

    def put(self, key: str, data: bytes, durable: bool = True) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, data, durable)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = write_temp(path, data)
        try:
            os.link(temp, path)  # atomic, and refuses an existing name: the file appears whole, or not at all
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)
        return True

    def replace_if(self, key: str, data: bytes, etag: str | None) -> bool:
        with locked(self.root / COMPARE_LOCK):
            if _stamp(self.path(key)) != etag:
                return False
            self.put(key, data)
        return True

    def _files(self, prefix: str) -> Iterator[tuple[str, os.stat_result]]:
        """(key, stat) of every finished file under `prefix`; one deleted meanwhile is left out."""
        base = self.path(prefix.rstrip("/")) if prefix.rstrip("/") else self.root
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            relative = path.relative_to(self.root)
            if any(part.startswith(".") for part in relative.parts):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if S_ISREG(stat.st_mode):
                yield "/".join(relative.parts), stat

    def list(self, prefix: str) -> dict[str, float]:
        return {key: stat.st_mtime for key, stat in self._files(prefix)}

    def sizes(self, prefix: str) -> dict[str, int]:
        return {key: stat.st_size for key, stat in self._files(prefix)}

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        for folder in path.parents:  # a model's folder goes with its last file
            if folder == self.root or not folder.is_relative_to(self.root):
                break
            try:
                folder.rmdir()
            except OSError:  # not empty (or gone): stop here
                break

    def writer_lock(self, name: str) -> AbstractContextManager[None]:
        return locked(self.root / f".{name}.lock")

    def remove_leftovers(self, prefix: str) -> None:
        """Temporary files of writes cut short (a killed step), once old enough to belong to no running one."""
        base = self.path(prefix)
        for folder in [base, *base.rglob("*")] if base.is_dir() else []:
            if folder.is_dir():
                remove_stale_temp_files(folder)

    def check(self, writing: bool = True) -> None:
        """The folder exists (made if needed) and this user may write it; ConfigError naming MLSTEPS_DATA_DIR if not.

        A reader (serve) checks nothing: its folder may be mounted read-only, or not be there yet."""
        if writing:
            ensure_writable_dir(self.root)
