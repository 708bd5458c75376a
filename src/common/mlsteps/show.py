"""`mlsteps show`: what is on the volume, in a terminal: the newest snapshot's first rows, the models, which is
live, and the monitor's last verdict.

Snapshots are pickles, not CSV files you can `cat`; this is the look inside that replaces it. It only
reads, so it also works in the serve container, whose volume is read-only.
"""

from __future__ import annotations

from mlsteps.config import Settings
from mlsteps.volume.location import models_area, monitor_area, snapshots_area
from mlsteps.volume.registry import ModelRejected, folder_name, list_versions, read_metadata, read_pointer
from mlsteps.volume.reports import read_latest_report, read_retrain_request
from mlsteps.volume.snapshots import SnapshotRejected, list_snapshots, read_snapshot

FIRST_ROWS = 5


def _snapshot_lines(settings: Settings) -> list[str]:
    data = snapshots_area(settings)
    snapshots = list_snapshots(data)
    if not snapshots:
        return [f"no snapshot yet in {data} (run load-data)"]
    try:
        table, meta = read_snapshot(data, snapshots[-1])
    except SnapshotRejected as reason:
        return [f"newest snapshot refused: {reason}"]
    lines = [
        f"newest snapshot: {meta['file']} ({len(table.X)} rows x {len(table.feature_names)} features, "
        f"{table.task}, from {table.source}, {meta['created_at']}); {len(snapshots)} kept"
    ]
    columns = [*table.feature_names, *([] if table.y is None else [table.target_name])]
    first = table.X.head(FIRST_ROWS).astype(object).to_numpy()
    rows = [
        [f"{v:g}" if isinstance(v, float) else str(v) for v in first[i]]
        + ([] if table.y is None else [str(table.y[i])])
        for i in range(len(first))
    ]
    widths = [max(len(c), *(len(r[j]) for r in rows)) for j, c in enumerate(columns)]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return lines


def _model_line(settings: Settings, version: int, live: int | None) -> str:
    try:
        meta = read_metadata(models_area(settings), version)
        metrics = ", ".join(f"{name}={value}" for name, value in meta["metrics"].items())
        what = f"{meta['estimator']}" if "estimator" in meta else ""
        state = "LIVE" if version == live else ("promoted before" if meta.get("promoted") else "not promoted")
        line = f"  v{version:<6d} {state:15s} {metrics}  {what}  trained {meta['created_at']}"
        return line + _onnx_line(settings, version, meta.get("onnx"))
    except (ModelRejected, KeyError) as error:
        return f"  v{version:<6d} unreadable ({error})"


def _onnx_line(settings: Settings, version: int, onnx: dict | None) -> str:
    """Where the model's ONNX export is (a file to take anywhere ONNX Runtime runs), or why there is none."""
    if not onnx:
        return ""
    if onnx.get("exported"):
        where = models_area(settings)
        location = where.store.where if settings.store else str(settings.data_dir.resolve())
        return f"\n           onnx: {location}/{where.key(folder_name(version), onnx['file'])}"
    return f"\n           onnx: none, {onnx.get('why', 'not exported')}"


def _model_lines(settings: Settings) -> list[str]:
    models = models_area(settings)
    versions = list_versions(models)
    if not versions:
        return [f"no model yet in {models} (run train)"]
    try:
        pointer = read_pointer(models)
    except ModelRejected as reason:
        pointer, versions_note = None, f" (the pointer is refused: {reason})"
    else:
        versions_note = ""
    live = pointer["version"] if pointer else None
    return [f"models ({len(versions)} kept, live: {f'v{live}' if live else 'none'}){versions_note}:"] + [
        _model_line(settings, version, live) for version in reversed(versions)
    ]


def _monitor_lines(settings: Settings) -> list[str]:
    """The monitor's last verdict (docs/monitoring.md), and a retrain request train has not honoured yet."""
    monitor = monitor_area(settings)
    report = read_latest_report(monitor)
    if report is None:
        return [f"no monitor report yet in {monitor} (run monitor)"]
    lines = [f"monitor ({report.get('created_at')}, model v{report.get('model_version')}): {report.get('verdict')}"]
    pending = read_retrain_request(monitor)
    if pending:
        lines.append(f"  retrain requested at {pending.get('requested_at')}: {'; '.join(pending.get('reasons', []))}")
    return lines


def show(settings: Settings) -> int:
    """Print the volume's snapshots and models; 0 always: an empty volume is an answer too."""
    print(f"volume: {settings.store or settings.data_dir.resolve()}")
    for line in _snapshot_lines(settings) + _model_lines(settings) + _monitor_lines(settings):
        print(line)
    return 0
