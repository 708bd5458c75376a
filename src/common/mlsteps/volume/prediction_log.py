"""The prediction log on the volume: batches of JSON lines, each file written whole, never appended to.

serve's writer (serve/prediction_log.py) puts one file per batch; the monitor step and serve's /feedback
read them back. Every file goes through these few functions (put, list, read, delete), so a store other
than a folder can carry the log by giving the same four.

Layout, under MLSTEPS_DATA_DIR/predictions/:

    requests/<UTC time>-<writer>-<n>.jsonl   one line per /predict answer:
        {"request_id", "time", "model_version", "instances", "predictions"}
    feedback/<UTC time>-<writer>-<n>.jsonl   one line per POST /feedback:
        {"request_id", "time", "actual"}

A name starts with the UTC time of its first record, so names sort oldest first across writers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from mlsteps.volume.atomic import remove_stale_temp_files, write_bytes_atomic

REQUESTS, FEEDBACK = "requests", "feedback"
KINDS = (REQUESTS, FEEDBACK)
SUFFIX = ".jsonl"
NAME = re.compile(r"^(\d{8}T\d{6}\.\d{6}Z)-[\w.-]+-\d+\.jsonl$")


@dataclass(frozen=True)
class Batch:
    """One batch file: its path, size and the time of its first record (from its name)."""

    path: Path
    size: int
    started: float


def batch_name(started: float, writer: str, number: int) -> str:
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{writer}-{number}{SUFFIX}"


def put_batch(log_dir: Path, kind: str, name: str, records: list[dict]) -> Path:
    """Write `records` as one whole JSON-lines file (a reader sees all of it or none)."""
    directory = log_dir / kind
    directory.mkdir(parents=True, exist_ok=True)
    body = b"".join(
        orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list) + b"\n" for record in records
    )
    path = directory / name
    write_bytes_atomic(path, body)
    return path


def _as_list(value):
    """What orjson cannot write by itself (a numpy array that is not C-ordered, a numpy scalar) as plain values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} cannot be written as JSON")


def list_batches(log_dir: Path, kind: str) -> list[Batch]:
    """The complete batch files of one kind, oldest first."""
    directory = log_dir / kind
    if not directory.is_dir():
        return []
    batches = []
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if not match:
            continue
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # pruned meanwhile
            continue
        started = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=UTC).timestamp()
        batches.append(Batch(path, size, started))
    return sorted(batches, key=lambda batch: batch.path.name)


def read_batch(batch: Batch) -> list[dict]:
    """The records of one batch; a file pruned meanwhile reads as none, a damaged line is skipped."""
    try:
        lines = batch.path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return records


def newest_records(log_dir: Path, kind: str) -> Iterator[dict]:
    """Records of one kind, newest batch first (within a batch, in the order written)."""
    for batch in reversed(list_batches(log_dir, kind)):
        yield from read_batch(batch)


def delete_batch(batch: Batch) -> None:
    batch.path.unlink(missing_ok=True)


def prune_log(log_dir: Path, keep_seconds: float, keep_bytes: int, now: float | None = None) -> list[Batch]:
    """Delete batches older than `keep_seconds`, then the oldest until each kind fits in `keep_bytes`."""
    now = time.time() if now is None else now
    removed = []
    for kind in KINDS:
        batches = list_batches(log_dir, kind)
        total = sum(batch.size for batch in batches)
        for batch in batches:
            if batch.started >= now - keep_seconds and total <= keep_bytes:
                break
            delete_batch(batch)
            total -= batch.size
            removed.append(batch)
        if (log_dir / kind).is_dir():
            remove_stale_temp_files(log_dir / kind)
    return removed
