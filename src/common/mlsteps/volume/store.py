"""Where the volume lives: a local folder or an S3 bucket, behind one small interface of whole objects by key.

The registry, the snapshots and any other writer (a prediction log, a report) use only `Store`, so no
step knows which backend it has. Keys are slash-separated ("models/v000001/model.pkl"). A reader sees
a whole object or none, never part of one. Two conditional writes give several writers on several
machines the guarantees a lock gives on one: `put_if_absent` claims a number (S3: `If-None-Match: *`),
`replace_if` moves a pointer only from the version of it that was read (S3: `If-Match` on its ETag).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from mlsteps.errors import RuntimeFailure

S3_SCHEME = "s3://"


class StoreUnavailable(RuntimeFailure):
    """The store did not answer in time, or refused a call: the step fails (exit 1), nothing half-written shows."""


class Versioned(NamedTuple):
    """An object's bytes and the tag of that version of it (S3's ETag; a file's inode, time and size)."""

    data: bytes
    etag: str


UNCHANGED = Versioned(b"", "")  # get_if_changed's answer when the object still has the tag the caller has


class Store(Protocol):
    """Whole objects by key; every call either completes or raises (OSError locally, StoreUnavailable remotely)."""

    where: str  # for messages: the folder, or s3://bucket/prefix

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None when there is no such object."""

    def get_versioned(self, key: str) -> Versioned | None:
        """The object with its tag (for `replace_if`); None when there is no such object."""

    def get_if_changed(self, key: str, etag: str | None) -> Versioned | None:
        """UNCHANGED when the object still has `etag` (one small request, no body); else as get_versioned."""

    def put(self, key: str, data: bytes, durable: bool = True) -> None:
        """Write the whole object; a reader sees the old one or this one.

        `durable=False`: the object may be lost to a power cut (not to a crash of the process) in exchange for
        not waiting for the disk; only the prediction log asks for it. An object store is always durable.
        """

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write only if no object has this key; False when one has (somebody claimed it first)."""

    def replace_if(self, key: str, data: bytes, etag: str | None) -> bool:
        """Write only if the object still has `etag` (None: only if absent); False when it changed meanwhile."""

    def list(self, prefix: str) -> dict[str, float]:
        """Every key under `prefix` ("models/"), with its last change as a Unix time."""

    def sizes(self, prefix: str) -> dict[str, int]:
        """Every key under `prefix`, with its size in bytes: from the same one listing as `list` (a retention
        by size reads no object)."""

    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    def writer_lock(self, name: str) -> AbstractContextManager[None]:
        """A lock writers of `name` hold around claim-write-prune: a flock locally, nothing on S3 (whose
        conditional writes do the same job)."""

    def remove_leftovers(self, prefix: str) -> None:
        """Delete what writes cut short left under `prefix` (temporary files), once no running step can own it."""

    def check(self, writing: bool = True) -> None:
        """Prove the store answers (and, `writing`, can be written) now; UserError naming MLSTEPS_STORE or
        MLSTEPS_DATA_DIR if not."""


@dataclass(frozen=True)
class Area:
    """One folder of the volume ("models", "data"): a store and the first part of its keys."""

    store: Store
    name: str

    def key(self, *parts: str) -> str:
        return "/".join((self.name, *parts))

    def names(self) -> dict[str, float]:
        """The keys under this area, without the area's name, with their last change."""
        prefix = f"{self.name}/"
        return {key.removeprefix(prefix): modified for key, modified in self.store.list(prefix).items()}

    def sizes(self) -> dict[str, int]:
        """The keys under this area, without the area's name, with their size in bytes."""
        prefix = f"{self.name}/"
        return {key.removeprefix(prefix): size for key, size in self.store.sizes(prefix).items()}

    def part(self, name: str) -> Area:
        """A folder inside this area ("predictions" -> "predictions/requests")."""
        return Area(self.store, self.key(name))

    def __str__(self) -> str:
        return f"{self.store.where}/{self.name}"
