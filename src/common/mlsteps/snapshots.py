"""Data snapshots on the shared volume: numbered CSV files, each made complete by its JSON sidecar."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mlsteps.atomic import is_stale, remove_stale_temp_files, sha256_bytes, write_text_atomic
from mlsteps.datasets import Table

STEM = re.compile(r"^snapshot-(\d{6,})$")


def _sequence(path: Path) -> int:
    """The number in snapshot-NNNNNN.csv or .json; -1 for any other file."""
    match = STEM.match(path.stem)
    return int(match.group(1)) if match else -1


def list_snapshots(directory: Path) -> list[Path]:
    """Complete snapshots (their .json exists), oldest first."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob("snapshot-*.json") if _sequence(p) >= 0), key=_sequence)


def next_sequence(directory: Path) -> int:
    return max((_sequence(p) for p in directory.glob("snapshot-*.csv")), default=0) + 1


def _to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*table.feature_names, table.target_name])
    for features, target in zip(table.X.tolist(), table.y.tolist(), strict=True):
        writer.writerow([*features, target])
    return buffer.getvalue()


def write_snapshot(directory: Path, table: Table, sequence: int) -> Path:
    """Write the CSV, then the sidecar that marks it complete; both by atomic rename. Returns the sidecar."""
    directory.mkdir(parents=True, exist_ok=True)
    text = _to_csv(table)
    csv_path = directory / f"snapshot-{sequence:06d}.csv"
    write_text_atomic(csv_path, text)
    meta = {
        "sequence": sequence,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": table.source,
        "task": table.task,
        "target": table.target_name,
        "feature_names": table.feature_names,
        "rows": len(table.X),
        "csv": csv_path.name,
        "sha256": sha256_bytes(text.encode("utf-8")),
    }
    json_path = csv_path.with_suffix(".json")
    write_text_atomic(json_path, json.dumps(meta, indent=2) + "\n")
    return json_path


def read_snapshot(json_path: Path) -> tuple[Table, dict]:
    """Load a snapshot back into a Table, with its sidecar metadata."""
    meta = json.loads(json_path.read_text())
    with open(json_path.parent / meta["csv"], newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    X = np.asarray([row[:-1] for row in rows], dtype=float)
    targets = [row[-1] for row in rows]
    y = np.asarray(targets, dtype=object) if meta["task"] == "classification" else np.asarray(targets, dtype=float)
    return Table(meta["feature_names"], X, y, meta["task"], meta["target"], meta["source"]), meta


def prune_snapshots(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` snapshots (sidecar first, so no reader sees a half one) and leftovers."""
    removed = []
    for json_path in list_snapshots(directory)[:-keep]:
        json_path.unlink(missing_ok=True)
        (json_path.with_suffix(".csv")).unlink(missing_ok=True)
        removed.append(json_path)
    for data_file in directory.glob("snapshot-*.csv"):  # its sidecar never came: a writer died between the two
        if not data_file.with_suffix(".json").exists() and is_stale(data_file):
            data_file.unlink(missing_ok=True)
    remove_stale_temp_files(directory)  # writes cut short
    return removed
