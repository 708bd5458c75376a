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

A requests batch whose ids serve made itself (`<16 hex digits of the process>-<hex counter>`, the
default when a client sends no X-Request-ID) also carries their range in its name:

    requests/<UTC time>-<writer>-<n>.ids-<process>-<first>-<last>.jsonl

so /feedback finds such an id, from any replica, in the batches whose range holds it: one listing and
a GET or two (ranges overlap only where slow requests finished after later ones), however long the
log. Any other id (a client's own) may be in any batch without a range, and only the newest
LOOKUP_UNRANGED of those are read (the window /feedback promises).
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
NAME = re.compile(  # time, then (optional) the id range: process, first and last counter
    r"^(\d{8}T\d{6}\.\d{6}Z)-[\w.-]+?-\d+(?:\.ids-([0-9a-f]{16})-([0-9a-f]{1,16})-([0-9a-f]{1,16}))?\.jsonl$"
)
SERVE_ID = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{1,16})$")  # serve's own request ids: its process, a counter
LOOKUP_UNRANGED = 10  # batches without an id range (a client's own ids) /feedback reads, newest first


@dataclass(frozen=True)
class Batch:
    """One batch: its kind and name, its size and the time of its first record (from its name)."""

    kind: str
    name: str
    size: int
    started: float
    ids: tuple[str, int, int] | None = None  # (process, first, last counter) when every id in it is serve's own


def _log(where: Area | Path) -> Area:
    return area(where, PREDICTIONS)


def batch_name(started: float, writer: str, number: int, ids: tuple[str, int, int] | None = None) -> str:
    """The batch's object name; `ids` (process, first, last counter) when every request id in it is serve's."""
    stamp = datetime.fromtimestamp(started, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    ranged = f".ids-{ids[0]}-{ids[1]:x}-{ids[2]:x}" if ids else ""
    return f"{stamp}-{writer}-{number}{ranged}{SUFFIX}"


def serve_id(request_id: str) -> tuple[str, int] | None:
    """(process, counter) of an id serve made; None for a client's own id."""
    match = SERVE_ID.match(request_id)
    return (match.group(1), int(match.group(2), 16)) if match else None


def id_range(request_ids: list[str]) -> tuple[str, int, int] | None:
    """(process, first, last counter) when every id is serve's own from one process, else None.

    One regular expression over the batch's ids joined, not one per id: this runs on the writer thread, on
    the core that serves, for every answer (0.8 µs an id matched one by one).
    """
    first = serve_id(request_ids[0]) if request_ids else None
    if first is None:
        return None
    process = first[0]
    every_one = re.compile(rf"(?:{process}-[0-9a-f]{{1,16}}\n)+")  # the re module caches it: one per process
    if not every_one.fullmatch("\n".join(request_ids) + "\n"):
        return None
    counters = [int(request_id[17:], 16) for request_id in request_ids]
    return process, min(counters), max(counters)


def batches_that_may_hold(batches: list[Batch], request_id: str) -> list[Batch]:
    """The batches a lookup of `request_id` reads, newest first: those whose id range holds it (serve's own id),
    then the newest LOOKUP_UNRANGED without a range: a GET or two plus at most LOOKUP_UNRANGED, however long
    the log."""
    wanted = serve_id(request_id)
    ranged = [
        batch
        for batch in batches
        if wanted and batch.ids and batch.ids[0] == wanted[0] and batch.ids[1] <= wanted[1] <= batch.ids[2]
    ]
    unranged = [batch for batch in batches if batch.ids is None][-LOOKUP_UNRANGED:]
    return [*reversed(ranged), *reversed(unranged)]


def put_batch(log_area: Area | Path, kind: str, name: str, records: list[dict]) -> str:
    """Write `records` as one whole JSON-lines object (a reader sees all of it or none); returns its key."""
    folder = _log(log_area).part(kind)
    body = b"".join(
        orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY, default=_as_list) + b"\n" for record in records
    )
    # Not durable: a batch lost to a power cut costs a second of log (and read_batch skips a damaged line), while
    # an fsync a second cost the serving core about 40 µs of kernel time a request at one connection.
    folder.store.put(folder.key(name), body, durable=False)
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
            process, first, last = match.group(2, 3, 4)
            ids = (process, int(first, 16), int(last, 16)) if process else None
            batches.append(Batch(kind, name, size, started, ids))
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
