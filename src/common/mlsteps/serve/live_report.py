"""The monitor's newest report as serve holds it: read again when `monitor/latest.json` is replaced.

As with the model pointer (live_model.py), one stat a poll; the report is read only when it changed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mlsteps.volume.reports import latest_report_stamp, list_reports, read_latest_report, read_report

log = logging.getLogger("mlsteps.serve")
HISTORY_POINTS = 50  # reports on the drift-over-time plot


class LiveReport:
    def __init__(self, monitor_dir: Path):
        self.monitor_dir = monitor_dir
        self.report: dict | None = None
        self._seen: tuple | None = None

    def refresh(self) -> bool:
        """Read latest.json if it was replaced; True when a new report is now shown."""
        stamp = latest_report_stamp(self.monitor_dir)
        if stamp is None or stamp == self._seen:
            return False
        report = read_latest_report(self.monitor_dir)
        if report is None:  # unreadable: keep the previous one, try again at the next poll
            return False
        self._seen, self.report = stamp, report
        return True

    def history(self) -> list[dict]:
        """The newest HISTORY_POINTS reports, oldest first, cut down to what the plot of drift over time needs."""
        points = []
        for path in list_reports(self.monitor_dir)[-HISTORY_POINTS:]:
            report = read_report(path)
            if report:
                psi = {name: scores.get("psi") for name, scores in (report.get("features") or {}).items()}
                points.append(
                    {"created_at": report.get("created_at"), "model_version": report.get("model_version"), "psi": psi}
                )
        return points


async def watch_report(report: LiveReport, every_seconds: float) -> None:
    """Poll the monitor's latest.json until cancelled; a failed read keeps the previous report shown."""
    while True:
        try:
            await asyncio.to_thread(report.refresh)
        except Exception:
            log.exception("reading the monitor's report failed; still showing the previous one")
        await asyncio.sleep(every_seconds)
