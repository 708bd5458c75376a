"""The load-data step: write one new data snapshot to the volume (a folder or a store), keep the newest N."""

from __future__ import annotations

import logging

from mlsteps.config import Settings
from mlsteps.load_data.sources import fetch
from mlsteps.volume.location import snapshots_area
from mlsteps.volume.snapshots import next_sequence, prune_snapshots, write_snapshot

log = logging.getLogger("mlsteps.load_data")


def load_data(settings: Settings) -> str:
    """Fetch the next snapshot of the configured source and publish it atomically; returns its sidecar's name."""
    data = snapshots_area(settings)
    # A local folder: one writer at a time from "which number is next" to "pruned". Any store: the number is
    # claimed by a conditional write, so two runs never share one; one that lost the race fetches for the next.
    with data.store.writer_lock("snapshots"):
        while True:
            sequence = next_sequence(data)
            table = fetch(settings, sequence)
            sidecar = write_snapshot(data, table, sequence)
            if sidecar is not None:
                break
            log.info("snapshot %06d was claimed by another load-data; fetching for the next number", sequence)
        removed = prune_snapshots(data, settings.keep_snapshots)
    log.info(
        "wrote snapshot %06d: %d rows, %d features, %s (%s)%s",
        sequence,
        len(table.X),
        len(table.feature_names),
        table.source,
        table.task,
        f"; removed {len(removed)} old" if removed else "",
    )
    return sidecar
