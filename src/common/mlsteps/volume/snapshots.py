"""Data snapshots on the volume: numbered pickles of named numpy arrays, each made complete by its JSON sidecar.

A pickle can run code when it is loaded, so a snapshot is read only after its sha256 matches the
sidecar, and through an unpickler that admits numpy arrays and nothing else. Each feature column is
one array under its name: numbers as float64 with NaN where a value is missing, text as an array of
Python strings with None where a value is missing (pickle writes strings and None itself, without
naming any class); the target and the rows' groups are arrays too. After loading, every array is
checked to hold only those.

A snapshot's number is claimed by writing its data only if no object has that name yet (two load-datas,
even on two machines, never share one); its sidecar, written last, makes it visible.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mlsteps.table import Table, make_frame, stored_columns
from mlsteps.volume.atomic import STALE_SECONDS, sha256_bytes
from mlsteps.volume.location import area
from mlsteps.volume.store import Area

STEM = re.compile(r"^snapshot-(\d{6,})$")
DATA_SUFFIX = ".pkl"
# What a snapshot's pickle may name: numpy arrays and their dtypes, nothing that runs code.
SAFE_GLOBALS = (
    {
        (module, name)
        for module in ("numpy._core.multiarray", "numpy.core.multiarray")
        for name in ("_reconstruct", "scalar")
    }
    | {(module, "_frombuffer") for module in ("numpy._core.numeric", "numpy.core.numeric")}
    | {("numpy", "ndarray"), ("numpy", "dtype")}
)


class SnapshotRejected(ValueError):
    """A snapshot on the volume must not be read; the message says why."""


class _ArraysOnly(pickle.Unpickler):
    """Unpickles numpy arrays and plain containers only: any other class or function is refused."""

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"it names {module}.{name}, and a snapshot may hold only numpy arrays")
        return super().find_class(module, name)


def _sequence(name: str) -> int:
    """The number in snapshot-NNNNNN.pkl or .json; -1 for any other name."""
    match = STEM.match(name.rsplit(".", 1)[0])
    return int(match.group(1)) if match and "/" not in name else -1


def _data(where: Area | Path) -> Area:
    return area(where, "data")


def list_snapshots(directory: Area | Path) -> list[str]:
    """The complete snapshots' sidecar names (snapshot-000001.json: their sidecar exists), oldest first."""
    names = _data(directory).names()
    return sorted((n for n in names if n.endswith(".json") and _sequence(n) >= 0), key=_sequence)


def next_sequence(directory: Area | Path) -> int:
    return max((_sequence(name) for name in _data(directory).names()), default=0) + 1


def write_snapshot(directory: Area | Path, table: Table, sequence: int) -> str | None:
    """Write the data (a pickle of named numpy arrays), then the sidecar that marks it complete. Returns the
    sidecar's name; None when another writer claimed `sequence` first (try the next number).

    The data is written only if its name is free (the claim), the sidecar last, with the data's sha256
    in it: a reader that finds a sidecar finds whole data, and can tell if it was damaged since.
    """
    data = _data(directory)
    arrays = {"columns": stored_columns(table.X)}
    if table.y is not None:  # clustering data has no target
        arrays["y"] = np.asarray(table.y)
    if table.groups is not None:
        arrays["groups"] = np.asarray(table.groups, dtype=np.int64)
    blob = pickle.dumps(arrays, protocol=pickle.HIGHEST_PROTOCOL)
    data_name = f"snapshot-{sequence:06d}{DATA_SUFFIX}"
    if not data.store.put_if_absent(data.key(data_name), blob):
        return None
    meta = {
        "sequence": sequence,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": table.source,
        "task": table.task,
        "target": table.target_name,
        "feature_names": table.feature_names,
        "features": table.features(),
        "rows": len(table.X),
        "file": data_name,
        "sha256": sha256_bytes(blob),
    }
    sidecar = f"snapshot-{sequence:06d}.json"
    data.store.put(data.key(sidecar), (json.dumps(meta, indent=2) + "\n").encode())
    return sidecar


def read_snapshot(directory: Area | Path, sidecar: str) -> tuple[Table, dict]:
    """Load a snapshot back into a Table, with its sidecar; SnapshotRejected when it is damaged or unsafe."""
    data = _data(directory)
    try:
        meta = json.loads(data.store.get(data.key(sidecar)) or b"")
        blob = data.store.get(data.key(meta["file"]))
        if blob is None:
            raise FileNotFoundError(f"no {data}/{meta['file']}")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SnapshotRejected(f"{sidecar} is incomplete or unreadable ({error})") from None
    if sha256_bytes(blob) != meta.get("sha256"):
        raise SnapshotRejected(f"{meta['file']} does not match the sha256 in {sidecar} (corrupt or tampered)")
    try:
        arrays = _ArraysOnly(io.BytesIO(blob)).load()
        columns = _columns(arrays, meta["feature_names"])
        y, groups = _checked("y", arrays.get("y"), "biufUO"), _checked("groups", arrays.get("groups"), "iu")
    except Exception as error:  # a pickle can fail in many ways; all mean: do not use it
        raise SnapshotRejected(f"{meta['file']} is refused: {error}") from None
    table = Table(make_frame(columns), y, meta["task"], meta["target"], meta["source"], groups)
    return table, meta


def _checked(name: str, values, kinds: str) -> np.ndarray | None:
    """`values` if it is a 1-D array of numbers or text (strings, None where missing); ValueError otherwise."""
    if values is None:
        return None
    if not isinstance(values, np.ndarray) or values.ndim != 1 or values.dtype.kind not in kinds:
        raise ValueError(f"{name} is not a column of numbers or text")
    if values.dtype.kind == "O" and not all(value is None or type(value) is str for value in values):
        raise ValueError(f"{name} holds something other than text and missing values")
    return values


def _columns(arrays: dict, names: list[str]) -> dict[str, np.ndarray]:
    """The named feature columns, checked; a snapshot written before columns had names holds one matrix X."""
    if "X" in arrays:
        X = arrays["X"]
        return {name: _checked(name, X[:, i], "f") for i, name in enumerate(names)}
    columns = arrays["columns"]
    if list(columns) != names:
        raise ValueError(f"its columns {list(columns)} are not the sidecar's {names}")
    return {name: _checked(name, values, "fO") for name, values in columns.items()}


def prune_snapshots(directory: Area | Path, keep: int) -> list[str]:
    """Delete all but the newest `keep` snapshots (sidecar first, so no reader sees a half one) and leftovers."""
    data = _data(directory)
    removed = []
    for sidecar in list_snapshots(data)[:-keep]:
        data.store.delete(data.key(sidecar))
        data.store.delete(data.key(sidecar.removesuffix(".json") + DATA_SUFFIX))
        removed.append(sidecar)
    names, now = data.names(), time.time()
    for name, modified in names.items():  # data whose sidecar never came: the writer died
        orphan = name.endswith(DATA_SUFFIX) and name.removesuffix(DATA_SUFFIX) + ".json" not in names
        if orphan and _sequence(name) >= 0 and now - modified > STALE_SECONDS:
            data.store.delete(data.key(name))
    data.store.remove_leftovers(data.name)  # writes cut short
    return removed
