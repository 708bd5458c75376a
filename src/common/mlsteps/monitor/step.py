"""The monitor step: one report on the volume per run, and a retrain request when drift or quality says so.

Drift: each feature of the newest MLSTEPS_MONITOR_WINDOW_ROWS logged rows against the live model's training
snapshot (statistics.py). Quality: the live model's answers that got feedback (quality.py). Either crossing
its threshold asks train to retrain, at most once per live model version: retraining on the same kind of data
again and again would not help. A new version gets a fresh look once it has answered
MLSTEPS_MONITOR_MIN_ROWS rows itself: until then, the drift reported is about the requests its predecessor
answered, and asking again would retrain on every run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pandas as pd

from mlsteps.config import Settings
from mlsteps.errors import RuntimeFailure
from mlsteps.monitor.quality import answer_distribution, live_quality
from mlsteps.monitor.recent import read_recent
from mlsteps.monitor.statistics import drifts, numeric_drift, text_drift
from mlsteps.table import TEXT
from mlsteps.volume.location import models_area, monitor_area, prediction_log_area, snapshots_area
from mlsteps.volume.registry import ModelRejected, read_live_metadata
from mlsteps.volume.reports import put_report, read_latest_report, read_retrain_request, request_retrain
from mlsteps.volume.snapshots import SnapshotRejected, list_snapshots, read_snapshot

log = logging.getLogger("mlsteps.monitor")


def _reference(settings: Settings, metadata: dict) -> tuple[pd.DataFrame, str, bool]:
    """The live model's training snapshot (or, pruned, the newest one with its columns): rows, name, own?"""
    data = snapshots_area(settings)
    recorded = str(metadata.get("snapshot") or "")
    own = recorded.removesuffix(".pkl") + ".json" if recorded else None
    kept = list_snapshots(data)
    candidates = ([own] if own in kept else []) + [name for name in reversed(kept) if name != own]
    for name in candidates:
        try:
            table, meta = read_snapshot(data, name)
        except SnapshotRejected as reason:
            log.warning("skipping a snapshot: %s", reason)
            continue
        if table.feature_names == metadata["feature_names"]:
            return table.X, meta["file"], name == own
    raise RuntimeFailure(f"no snapshot in {data} has the live model's columns to compare with")


def _values(column: pd.Series) -> list:
    """A training column as the log holds values: numbers (NaN where missing), or text (None where missing)."""
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
        return [None if pd.isna(value) else str(value) for value in column.astype(object)]
    return column.to_numpy(dtype=float).tolist()


def _recent_numbers(values: list) -> list[float]:
    return [float("nan") if value is None or isinstance(value, str) else float(value) for value in values]


def compare_features(settings: Settings, reference: pd.DataFrame, columns: dict, features: list[dict]) -> dict:
    """Each feature's drift: PSI, the test, and whether both cross their thresholds."""
    result = {}
    for feature in features:
        name = feature["name"]
        if feature["type"] == TEXT:
            scores = text_drift(_values(reference[name]), columns[name])
        else:
            scores = numeric_drift(_values(reference[name]), _recent_numbers(columns[name]))
        scores = {"type": feature["type"], **scores}
        scores["drift"] = drifts(scores, settings.drift_psi, settings.drift_p_value)
        result[name] = scores
    return result


def monitor(settings: Settings) -> dict | None:
    """Compare, judge, write the report (and the retrain request); None when no model is live yet."""
    try:
        metadata = read_live_metadata(models_area(settings))
    except ModelRejected as reason:
        raise RuntimeFailure(f"the live model's metadata cannot be read: {reason}") from None
    if metadata is None:
        log.info("no model is live yet in %s: nothing to monitor (the next run looks again)", models_area(settings))
        return None
    features = metadata.get("features") or [{"name": n, "type": "number"} for n in metadata["feature_names"]]
    version, task = metadata["version"], metadata["task"]
    log_area = prediction_log_area(settings)
    recent = read_recent(log_area, metadata["feature_names"], settings.monitor_window_rows, version)
    reference, snapshot, own = _reference(settings, metadata)
    enough = recent.rows >= settings.monitor_min_rows
    compared = compare_features(settings, reference, recent.columns, features) if enough else {}
    drifted = [name for name, scores in compared.items() if scores["drift"]]
    quality = live_quality(task, recent.pairs, metadata, settings.max_quality_drop, settings.monitor_min_rows)
    reasons = [f"drift in {', '.join(drifted)}"] if drifted else []
    if quality["quality_low"]:
        reasons.append(
            f"live {quality['metric']} {quality['value']} on {quality['rows']} rows, against {quality['holdout']} "
            f"on the holdout (more than {settings.max_quality_drop:.0%} worse)"
        )
    now = datetime.now(UTC)
    report = {
        "created_at": now.isoformat(timespec="seconds"),
        "model_version": version,
        "task": task,
        "reference": {"snapshot": snapshot, "rows": len(reference), "the_models_own": own},
        "recent": {
            "rows": recent.rows,
            "answered_by_live_model": recent.live_rows,
            "requests": recent.requests,
            "from": recent.first,
            "to": recent.last,
        },
        "drift_detected": bool(drifted) if enough else None,
        "drifted_features": drifted,
        "features": compared,
        "live_metrics": quality,
        "answers": answer_distribution(task, recent.answers),
        "thresholds": {
            "drift_psi": settings.drift_psi,
            "drift_p_value": settings.drift_p_value,
            "max_quality_drop": settings.max_quality_drop,
            "min_rows": settings.monitor_min_rows,
        },
        "reasons": reasons,
    }
    report |= _retrain(settings, report, reasons, version, recent.live_rows)
    report["verdict"] = verdict(report, settings)
    put_report(monitor_area(settings), report, now.strftime("%Y%m%dT%H%M%S.%fZ"))
    log.log(logging.WARNING if reasons else logging.INFO, "model v%d: %s", version, report["verdict"])
    return report


def _retrain(settings: Settings, report: dict, reasons: list[str], version: int, live_rows: int) -> dict:
    """Ask train to retrain when there are reasons, once per live model version, on its own answers."""
    if not reasons:
        return {"retrain_requested": False, "retrain_requested_for": None}
    if live_rows < settings.monitor_min_rows:
        note = (
            f"v{version} answered {live_rows} of these rows; asking again once it answered {settings.monitor_min_rows}"
        )
        return {"retrain_requested": False, "retrain_requested_for": None, "retrain_note": note}
    monitor_files = monitor_area(settings)
    previous = read_latest_report(monitor_files) or {}
    pending = read_retrain_request(monitor_files)
    if previous.get("retrain_requested_for") == version or (pending and pending.get("model_version") == version):
        return {
            "retrain_requested": True,
            "retrain_requested_for": version,
            "retrain_note": "already asked for this version",
        }
    request_retrain(
        monitor_files,
        {"requested_at": report["created_at"], "model_version": version, "reasons": reasons},
    )
    return {"retrain_requested": True, "retrain_requested_for": version}


def verdict(report: dict, settings: Settings) -> str:
    """The report in one sentence: what `mlsteps show` prints and the monitor logs."""
    rows = report["recent"]["rows"]
    if report["drift_detected"] is None:
        drift = f"{rows} logged rows, too few to judge drift (MLSTEPS_MONITOR_MIN_ROWS={settings.monitor_min_rows})"
    elif report["drift_detected"]:
        drift = f"DRIFT in {', '.join(report['drifted_features'])} over the newest {rows} rows"
    else:
        drift = f"no drift over the newest {rows} rows"
    quality = report["live_metrics"]
    if quality.get("value") is not None:
        drift += (
            f"; live {quality['metric']} {quality['value']} on {quality['rows']} rows (holdout {quality['holdout']})"
        )
    if report["retrain_requested"]:
        drift += "; retraining requested"
    return drift
