"""The monitor's reports and its retrain request on the volume: whole JSON objects, as the model pointer.

Under MLSTEPS_DATA_DIR/monitor/ (or s3://bucket/prefix/monitor/ with MLSTEPS_STORE):

    latest.json                  the newest report (serve watches it as it watches models/latest.json)
    history/report-<UTC>.json    every report, the newest KEEP_REPORTS kept (drift over time)
    retrain-request.json         written when the monitor asks for retraining; train deletes it once done
"""

from __future__ import annotations

import json
from pathlib import Path

from mlsteps.volume.location import MONITOR, area
from mlsteps.volume.store import UNCHANGED, Area, Versioned

LATEST = "latest.json"
HISTORY = "history"
RETRAIN_REQUEST = "retrain-request.json"
KEEP_REPORTS = 200


def _monitor(where: Area | Path) -> Area:
    return area(where, MONITOR)


def _parsed(data: bytes | None) -> dict | None:
    """The JSON object in `data`; None when there is none or it is not (yet) readable as one."""
    try:
        document = json.loads(data) if data is not None else None
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _encoded(document: dict) -> bytes:
    return (json.dumps(document, indent=1) + "\n").encode()


def put_report(monitor: Area | Path, report: dict, stamp: str) -> None:
    """Write the report into the history, then as latest.json (both whole objects); keep KEEP_REPORTS."""
    monitor = _monitor(monitor)
    body = _encoded(report)
    monitor.store.put(monitor.key(HISTORY, f"report-{stamp}.json"), body)
    monitor.store.put(monitor.key(LATEST), body)
    for old in list_reports(monitor)[:-KEEP_REPORTS]:
        monitor.store.delete(monitor.key(HISTORY, old))
    monitor.store.remove_leftovers(monitor.key(HISTORY))


def list_reports(monitor: Area | Path) -> list[str]:
    """Every kept report's name (report-<UTC>.json), oldest first."""
    names = _monitor(monitor).part(HISTORY).names()
    return sorted(name for name in names if name.startswith("report-") and name.endswith(".json"))


def read_report(monitor: Area | Path, name: str) -> dict | None:
    monitor = _monitor(monitor)
    return _parsed(monitor.store.get(monitor.key(HISTORY, name)))


def read_latest_report(monitor: Area | Path) -> dict | None:
    monitor = _monitor(monitor)
    return _parsed(monitor.store.get(monitor.key(LATEST)))


def latest_report_if_changed(monitor: Area | Path, etag: str | None) -> Versioned | None:
    """latest.json unless it still has `etag` (UNCHANGED: one stat, or one conditional GET with no body);
    None when there is no report. As serve polls the model pointer."""
    monitor = _monitor(monitor)
    return monitor.store.get_if_changed(monitor.key(LATEST), etag)


def parse_report(found: Versioned) -> dict | None:
    """latest.json's report from what `latest_report_if_changed` fetched; None when not readable as one."""
    return None if found is UNCHANGED else _parsed(found.data)


def request_retrain(monitor: Area | Path, request: dict) -> None:
    """Ask train to run on its next tick; `request` says why (train logs it)."""
    monitor = _monitor(monitor)
    monitor.store.put(monitor.key(RETRAIN_REQUEST), _encoded(request))


def read_retrain_request(monitor: Area | Path) -> dict | None:
    """The pending retrain request, or None."""
    monitor = _monitor(monitor)
    return _parsed(monitor.store.get(monitor.key(RETRAIN_REQUEST)))


def clear_retrain_request(monitor: Area | Path, request: dict) -> bool:
    """Delete the request train has honoured, unless a newer one replaced it meanwhile; True when deleted."""
    monitor = _monitor(monitor)
    if read_retrain_request(monitor) != request:
        return False
    monitor.store.delete(monitor.key(RETRAIN_REQUEST))
    return True
