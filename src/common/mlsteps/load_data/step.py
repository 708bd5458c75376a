"""The load-data step: write one new data snapshot to the shared volume, keep the newest N."""

from __future__ import annotations

import logging
from pathlib import Path

from mlsteps.config import Settings, ensure_writable_dir
from mlsteps.load_data.sources import fetch
from mlsteps.volume.atomic import locked
from mlsteps.volume.snapshots import next_sequence, prune_snapshots, write_snapshot

log = logging.getLogger("mlsteps.load_data")


def load_data(settings: Settings) -> Path:
    """Fetch the next snapshot of the configured source and publish it atomically; returns its sidecar."""
    directory = ensure_writable_dir(settings.snapshots_dir)
    # One writer at a time from "which number is next" to "pruned": two runs never share a number.
    with locked(settings.data_dir / ".snapshots.lock"):
        sequence = next_sequence(directory)
        table = fetch(settings, sequence)
        path = write_snapshot(directory, table, sequence)
        removed = prune_snapshots(directory, settings.keep_snapshots)
    log.info(
        "wrote snapshot %06d: %d rows, %d features, %s (%s)%s",
        sequence,
        len(table.X),
        len(table.feature_names),
        table.source,
        table.task,
        f"; removed {len(removed)} old" if removed else "",
    )
    return path
