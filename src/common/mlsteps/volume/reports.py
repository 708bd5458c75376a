"""The monitor's reports and its retrain request on the volume: whole JSON files, as the model pointer.

Under MLSTEPS_DATA_DIR/monitor/:

    latest.json                  the newest report (serve watches it as it watches models/latest.json)
    history/report-<UTC>.json    every report, the newest KEEP_REPORTS kept (drift over time)
    retrain-request.json         written when the monitor asks for retraining; train deletes it once done
"""

from __future__ import annotations

import json
from pathlib import Path

from mlsteps.volume.atomic import remove_stale_temp_files, write_text_atomic

LATEST = "latest.json"
HISTORY = "history"
RETRAIN_REQUEST = "retrain-request.json"
KEEP_REPORTS = 200


def _read_json(path: Path) -> dict | None:
    """The JSON object in `path`; None when the file is missing or not (yet) readable as one."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def put_report(monitor_dir: Path, report: dict, stamp: str) -> None:
    """Write the report into the history, then as latest.json (both whole files); keep KEEP_REPORTS."""
    history = monitor_dir / HISTORY
    history.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1) + "\n"
    write_text_atomic(history / f"report-{stamp}.json", text)
    write_text_atomic(monitor_dir / LATEST, text)
    for old in list_reports(monitor_dir)[:-KEEP_REPORTS]:
        old.unlink(missing_ok=True)
    remove_stale_temp_files(history)


def list_reports(monitor_dir: Path) -> list[Path]:
    """Every kept report, oldest first."""
    history = monitor_dir / HISTORY
    return sorted(history.glob("report-*.json")) if history.is_dir() else []


def read_report(path: Path) -> dict | None:
    return _read_json(path)


def read_latest_report(monitor_dir: Path) -> dict | None:
    return _read_json(monitor_dir / LATEST)


def request_retrain(monitor_dir: Path, request: dict) -> None:
    """Ask train to run on its next tick; `request` says why (train logs it)."""
    monitor_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(monitor_dir / RETRAIN_REQUEST, json.dumps(request, indent=1) + "\n")


def read_retrain_request(monitor_dir: Path) -> dict | None:
    """The pending retrain request, or None."""
    return _read_json(monitor_dir / RETRAIN_REQUEST)


def clear_retrain_request(monitor_dir: Path, request: dict) -> bool:
    """Delete the request train has honoured, unless a newer one replaced it meanwhile; True when deleted."""
    if read_retrain_request(monitor_dir) != request:
        return False
    (monitor_dir / RETRAIN_REQUEST).unlink(missing_ok=True)
    return True


def latest_report_stamp(monitor_dir: Path) -> tuple | None:
    """What changes when latest.json is replaced (one stat, as serve checks the model pointer); None: no report."""
    try:
        stat = (monitor_dir / LATEST).stat()
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
