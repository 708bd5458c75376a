"""The prediction log read back: the newest rows as columns, and the live model's answers that got feedback."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlsteps.volume.prediction_log import FEEDBACK, REQUESTS, newest_records
from mlsteps.volume.store import Area

LOOK_BACK = 4  # feedback is matched to answers among the newest LOOK_BACK x window rows, not the whole log


@dataclass
class Recent:
    """What the monitor compares: the newest rows' columns, their answers, and feedback joined to answers."""

    columns: dict[str, list] = field(default_factory=dict)
    rows: int = 0
    live_rows: int = 0  # of those, rows the live model answered: the evidence a retrain request needs
    requests: int = 0
    first: str | None = None  # the time of the oldest request read, and of the newest
    last: str | None = None
    answers: list = field(default_factory=list)
    pairs: list[tuple] = field(default_factory=list)  # (answer, actual) of the live model's answered rows


def _add_rows(recent: Recent, instances: list, names: list[str]) -> int:
    """Append one request's rows (lists in feature order, or objects by name) to the columns; rows added."""
    added = 0
    for row in instances:
        if isinstance(row, dict):
            values = [row.get(name) for name in names]
        elif isinstance(row, list) and len(row) == len(names):
            values = row
        else:  # a row of another model's shape (before a change of features): not comparable
            continue
        for name, value in zip(names, values, strict=True):
            recent.columns[name].append(value)
        added += 1
    return added


def read_recent(log: Area, names: list[str], window_rows: int, live_version: int) -> Recent:
    """One pass over the log, newest first: rows until `window_rows`, and the answers feedback names.

    Feedback comes after its answer, often later: the pass goes on past the window to find the answers
    feedback names, but not beyond LOOK_BACK windows (a log of a week would otherwise be read every run).
    """
    actual: dict[str, list] = {}
    for record in newest_records(log, FEEDBACK):
        actual.setdefault(record.get("request_id"), record.get("actual") or [])
        if len(actual) >= window_rows:
            break
    recent = Recent(columns={name: [] for name in names})
    scanned = 0
    for record in newest_records(log, REQUESTS):
        scanned += len(record.get("instances") or [])
        wanted = actual.pop(record.get("request_id"), None)
        if wanted is not None and record.get("model_version") == live_version:
            recent.pairs.extend(zip(record.get("predictions") or [], wanted, strict=False))
        if recent.rows < window_rows:
            added = _add_rows(recent, record.get("instances") or [], names)
            if added:
                recent.rows += added
                recent.live_rows += added if record.get("model_version") == live_version else 0
                recent.requests += 1
                recent.answers.extend((record.get("predictions") or [])[:added])
                recent.last = recent.last or record.get("time")
                recent.first = record.get("time")
        elif not actual or scanned > LOOK_BACK * window_rows:
            break
    return recent
