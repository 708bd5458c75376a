"""Which store a process uses (a folder or s3://...), opened once, and the volume's areas in it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from mlsteps.config import Settings
from mlsteps.volume.store import S3_SCHEME, Area, Store

MODELS, SNAPSHOTS = "models", "data"  # the volume's two folders, as at every level before the store
PREDICTIONS, MONITOR = "predictions", "monitor"  # serve's prediction log and feedback; the monitor's reports


def is_remote(location: str) -> bool:
    return location.startswith(S3_SCHEME)


@lru_cache(maxsize=8)
def open_store(location: str, timeout_seconds: float = 10.0) -> Store:
    """The store at `location` (a folder, or s3://bucket/prefix); one per location, so a client and its
    connections are reused (serve asks for its pointer every reload interval)."""
    if is_remote(location):
        from mlsteps.volume.s3_store import S3Store

        return S3Store(location, timeout_seconds)
    from mlsteps.volume.local_store import LocalStore

    return LocalStore(Path(location))


def area(where: Area | Path, default_name: str = "") -> Area:
    """An Area, from an Area or a local folder (its parent is the store, its name the area's name)."""
    if isinstance(where, Area):
        return where
    path = Path(where)
    return Area(open_store(str(path.parent)), path.name or default_name)


def volume_of(settings: Settings) -> Store:
    """The store the settings name: MLSTEPS_STORE when set, else the MLSTEPS_DATA_DIR folder (the default)."""
    return open_store(settings.store or str(settings.data_dir), settings.store_timeout_seconds)


def models_area(settings: Settings) -> Area:
    return Area(volume_of(settings), MODELS)


def snapshots_area(settings: Settings) -> Area:
    return Area(volume_of(settings), SNAPSHOTS)


def prediction_log_area(settings: Settings) -> Area:
    return Area(volume_of(settings), PREDICTIONS)


def monitor_area(settings: Settings) -> Area:
    return Area(volume_of(settings), MONITOR)
