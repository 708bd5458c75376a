"""The prediction log on the volume: batches of JSON lines, each one object written whole, never appended to.

serve's writer (serve/prediction_log.py) puts one batch at a time; the monitor step and serve's /feedback
read them back. Every batch goes through these few functions (put, list, read, delete, prune), on the
volume's Store: a local folder or an S3 bucket (MLSTEPS_STORE), the same keys on both.

Layout, under MLSTEPS_DATA_DIR/predictions/ (or s3://bucket/prefix/predictions/):

    requests/<UTC time>-<writer>-<n>.jsonl   one line per /predict answer:
        {"request_id", "time", "model_version", "instances", "predictions"}
    feedback/<UTC time>-<writer>-<n>.jsonl   one line per POST /feedback:
        {"request_id", "time", "actual"}

A name starts with the UTC time of its first record, so names sort oldest first across writers, and
retention by age needs no object read; retention by size takes the sizes from the same one listing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from mlsteps.volume.location import PREDICTIONS, area
from mlsteps.volume.store import Area

REQUESTS, FEEDBACK = "requests", "feedback"
KINDS = (REQUESTS, FEEDBACK)
SUFFIX = ".jsonl"
NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-[\w.-]+-\d+\.jsonl$")


@dataclass(frozen=True)
class Batch:
    """One batch: its kind and name, its size and the time of its first record (from its name)."""

    kind: str
    name: str
    size: int
    started: float


def _log(where: Area | Path) -> Area:
    return area(where, PREDICTIONS)


def batch_name(started: float, writer: str, number: int) -> str:
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{writer}-{number}{SUFFIX}"


def put_batch(log_area: Area | Path, kind: str, name: str, records: list[dict]) -> str:
    """Write `records` as one whole JSON-lines object (a reader sees all of it or none); returns its key."""
    folder = _log(log_area).part(kind)
    body = b"".join(
        orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list) + b"\n" for record in records
    )
    folder.store.put(folder.key(name), body)
    return folder.key(name)


def _as_list(value):
    """What orjson cannot write by itself (a numpy array that is not C-ordered, a numpy scalar) as plain values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def list_batches(log_area: Area | Path, kind: str) -> list[Batch]:
    """The complete batches of one kind, oldest first: one listing, no object read."""
    batches = []
    for name, size in _log(log_area).part(kind).sizes().items():
        match = NAME.match(name)
        if match:
            started = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()
            batches.append(Batch(kind, name, size, started))
    return sorted(batches, key=lambda batch: batch.name)


def read_batch(log_area: Area | Path, batch: Batch) -> list[dict]:
    """The records of one batch; a batch pruned meanwhile reads as none, a damaged line is skipped."""
    folder = _log(log_area).part(batch.kind)
    body = folder.store.get(folder.key(batch.name))
    records = []
    for line in (body or b"").splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return records


def newest_records(log_area: Area | Path, kind: str) -> Iterator[dict]:
    """Records of one kind, newest batch first (within a batch, in the order written)."""
    log = _log(log_area)
    for batch in reversed(list_batches(log, kind)):
        yield from read_batch(log, batch)


def delete_batch(log_area: Area | Path, batch: Batch) -> None:
    folder = _log(log_area).part(batch.kind)
    folder.store.delete(folder.key(batch.name))


def prune_log(log_area: Area | Path, keep_seconds: float, keep_bytes: int, now: float | None = None) -> list[Batch]:
    """Delete batches older than `keep_seconds`, then the oldest until each kind fits in `keep_bytes`."""
    log = _log(log_area)
    now = time.time() if now is None else now
    removed = []
    for kind in KINDS:
        batches = list_batches(log, kind)
        total = sum(batch.size for batch in batches)
        for batch in batches:
            if batch.started >= now - keep_seconds and total <= keep_bytes:
                break
            delete_batch(log, batch)
            total -= batch.size
            removed.append(batch)
        log.store.remove_leftovers(log.key(kind))  # a local write cut short (a killed serve); nothing on S3
    return removed
