"""The monitor's newest report as serve holds it: read again when `monitor/latest.json` is replaced.

As with the model pointer (live_model.py), one small call a poll (a stat of a local file, or one conditional
GET of an S3 object: "not modified" has no body); the report is fetched only when it changed. A volume that
does not answer keeps the report shown, is logged once per change, and the next poll tries again.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mlsteps.errors import RuntimeFailure
from mlsteps.volume.location import MONITOR, area
from mlsteps.volume.reports import latest_report_if_changed, list_reports, parse_report, read_report
from mlsteps.volume.store import UNCHANGED, Area

log = logging.getLogger("mlsteps.serve")
HISTORY_POINTS = 50  # reports on the drift-over-time plot


class LiveReport:
    def __init__(self, monitor: Area | Path):
        self.monitor = area(monitor, MONITOR)
        self.report: dict | None = None
        self._etag: str | None = None
        self._failing = False

    def refresh(self) -> bool:
        """Read latest.json if it was replaced; True when a new report is now shown."""
        try:
            found = latest_report_if_changed(self.monitor, self._etag)
        except (OSError, RuntimeFailure) as error:  # RuntimeFailure: the store is down or hung (StoreUnavailable)
            if not self._failing:
                log.error(
                    "the monitor's report cannot be read from %s (%s); still showing the last one", self.monitor, error
                )
            self._failing = True
            return False
        if self._failing:
            log.info("the monitor's report reads from %s again", self.monitor)
        self._failing = False
        if found is None or found is UNCHANGED:
            return False
        report = parse_report(found)
        if report is None:  # unreadable: keep the previous one, try again at the next poll
            return False
        self._etag, self.report = found.etag, report
        return True

    def history(self) -> list[dict]:
        """The newest HISTORY_POINTS reports, oldest first, cut down to what the plot of drift over time needs;
        none when the volume does not answer (the page shows the newest report all the same)."""
        points = []
        try:
            names = list_reports(self.monitor)[-HISTORY_POINTS:]
            reports = [read_report(self.monitor, name) for name in names]
        except (OSError, RuntimeFailure) as error:
            log.warning("the monitor's report history cannot be read from %s (%s)", self.monitor, error)
            return []
        for report in reports:
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
