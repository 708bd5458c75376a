"""GET /monitor.json and GET /monitor: the monitor's newest report, as data and as a page with plots.

The plots are SVG drawn here, on the server, from the report's numbers: no script, no CDN, so the page
works offline. Each feature: its training and recent shares per bin, side by side; then drift over time:
each feature's PSI in the kept reports, with the threshold as a dashed line. Every text that comes from
the volume is HTML-escaped.
"""

from __future__ import annotations

import asyncio
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict

monitoring = APIRouter()
WIDTH, HEIGHT = 360, 120
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


class MonitorReport(BaseModel):
    """The monitor's newest report (docs/monitoring.md lists every key; more may be present)."""

    model_config = ConfigDict(extra="allow")
    created_at: str
    model_version: int
    drift_detected: bool | None  # null: too few logged rows to judge
    retrain_requested: bool
    features: dict[str, dict]  # each feature's psi, test, statistic, p_value, drift, bins and shares
    live_metrics: dict
    verdict: str


class NoReport(BaseModel):
    detail: str


NO_REPORT = {404: {"model": NoReport, "description": "The monitor step has not written a report yet"}}


def no_report(request: Request) -> JSONResponse:
    where = request.app.state.report.monitor
    return JSONResponse({"detail": f"no monitor report yet in {where}; run `mlsteps monitor`"}, status_code=404)


@monitoring.get("/monitor.json", tags=["monitoring"], response_model=MonitorReport, responses=NO_REPORT)
async def monitor_json(request: Request):
    """The monitor's newest report: drift per feature, live quality from feedback, whether it asked to retrain."""
    report = request.app.state.report.report
    return JSONResponse(report) if report else no_report(request)


@monitoring.get("/monitor", tags=["monitoring"], response_class=HTMLResponse, responses=NO_REPORT)
async def monitor_page(request: Request):
    """The newest report as a page: the verdict, each feature's distributions, drift over time."""
    live = request.app.state.report
    if live.report is None:
        return no_report(request)
    history = await asyncio.to_thread(live.history)
    return HTMLResponse(render(live.report, history))


def bars(reference: list[float], recent: list[float], labels: list[str]) -> str:
    """Training (blue) and recent (orange) shares per bin, as one SVG."""
    count = max(len(reference), 1)
    slot = WIDTH / count
    top = max([*reference, *recent, 0.01])
    parts = []
    for i, (ref, now) in enumerate(zip(reference, recent, strict=False)):
        for j, (share, colour) in enumerate(((ref, COLOURS[0]), (now, COLOURS[1]))):
            height = share / top * (HEIGHT - 10)
            x = i * slot + 2 + j * (slot - 4) / 2
            label = escape(labels[i]) if i < len(labels) else ""
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - height:.1f}" width="{(slot - 4) / 2:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{label}: {"training" if j == 0 else "recent"} {share:.1%}</title></rect>'
            )
    return f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">{"".join(parts)}</svg>'


def lines(history: list[dict], threshold: float) -> str:
    """Each feature's PSI across the kept reports, and the threshold (dashed)."""
    names = sorted({name for point in history for name in point["psi"]})
    values = [v for point in history for v in point["psi"].values() if v is not None]
    top = max([*values, threshold * 1.5])
    step = WIDTH / max(len(history) - 1, 1)

    def y(value: float) -> float:
        return HEIGHT - value / top * (HEIGHT - 10)

    parts = [
        f'<line x1="0" x2="{WIDTH}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" stroke="#999" '
        f'stroke-dasharray="4"><title>MLSTEPS_DRIFT_PSI {threshold}</title></line>'
    ]
    for k, name in enumerate(names):
        points = " ".join(
            f"{i * step:.1f},{y(point['psi'][name]):.1f}"
            for i, point in enumerate(history)
            if point["psi"].get(name) is not None
        )
        colour = COLOURS[k % len(COLOURS)]
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}"><title>{escape(name)}</title></polyline>'
        )
    legend = " ".join(
        f'<span style="color:{COLOURS[k % len(COLOURS)]}">&#9632; {escape(n)}</span>' for k, n in enumerate(names)
    )
    return f'<svg width="{WIDTH}" height="{HEIGHT}" role="img">{"".join(parts)}</svg><p>{legend}</p>'


def feature_rows(report: dict) -> str:
    rows = []
    for name, scores in (report.get("features") or {}).items():
        p_value = scores.get("p_value")
        shown = "n/a" if p_value is None else f"{p_value:.3g}"
        plot = bars(scores.get("reference_shares", []), scores.get("recent_shares", []), scores.get("bins", []))
        rows.append(
            f"<tr><td><b>{escape(name)}</b><br>{'DRIFT' if scores.get('drift') else 'no drift'}<br>"
            f"PSI {scores.get('psi')}<br>{escape(str(scores.get('test')))} p = {shown}</td><td>{plot}</td></tr>"
        )
    return "".join(rows) or "<tr><td>Too few logged rows to compare yet.</td></tr>"


def render(report: dict, history: list[dict]) -> str:
    quality = report.get("live_metrics") or {}
    if quality.get("value") is not None:
        live = (
            f"Live {escape(str(quality['metric']))} {quality['value']} on {quality['rows']} rows with feedback "
            f"(holdout {quality['holdout']})"
        )
    else:
        live = escape(quality.get("note") or "No feedback yet")
    threshold = (report.get("thresholds") or {}).get("drift_psi", 0.2)
    compared = (
        f"Report of {escape(str(report.get('created_at')))}: the newest {report.get('recent', {}).get('rows')} "
        f"logged rows against {escape(str(report.get('reference', {}).get('snapshot')))}, the training data."
    )
    key = " and ".join(
        f'{what} <span style="color:{colour}">&#9632;</span>'
        for what, colour in zip(("training", "recent"), COLOURS, strict=False)
    )
    over_time = lines(history, threshold) if history else "<p>No report history yet.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mlsteps monitor</title>
<style>body{{font-family:sans-serif;max-width:52rem;margin:2rem auto}}td{{vertical-align:top;padding:.3rem}}</style>
</head><body><h1>Monitor: model v{escape(str(report.get("model_version")))}</h1>
<p><b>{escape(str(report.get("verdict")))}</b></p>
<p>{compared} {live}. Retraining requested: {"yes" if report.get("retrain_requested") else "no"}.
<a href="/monitor.json">/monitor.json</a> has every number; docs/monitoring.md says what they mean.</p>
<h2>Each feature: {key} shares per bin</h2>
<table>{feature_rows(report)}</table>
<h2>Drift over time (PSI per feature, {len(history)} reports)</h2>
{over_time}
</body></html>
"""
