"""Models on the shared volume: versioned folders, a checksum each, and a `latest.json` pointer.

A model folder appears by one atomic rename, complete; the pointer moves after it (also by rename),
so a reader that follows the pointer always finds a whole model. A pickle is loaded only when its
sha256 matches the one recorded at write time and it was made by this scikit-learn version.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sklearn

from mlsteps.atomic import STALE_SECONDS, sha256_bytes, write_text_atomic

POINTER = "latest.json"
MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
FOLDER = re.compile(r"^v(\d{6,})$")


class ModelRejected(Exception):
    """A model on the volume must not be loaded; the message says why."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified model, unpickled, with the metadata written beside it."""

    model: object
    metadata: dict

    @property
    def version(self) -> int:
        return self.metadata["version"]


def folder_name(version: int) -> str:
    return f"v{version:06d}"


def list_versions(models_dir: Path) -> list[int]:
    if not models_dir.is_dir():
        return []
    return sorted(int(m.group(1)) for p in models_dir.iterdir() if (m := FOLDER.match(p.name)))


def read_pointer(models_dir: Path) -> dict | None:
    """The promoted model's pointer, or None when nothing was promoted yet."""
    try:
        pointer = json.loads((models_dir / POINTER).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ModelRejected(f"{models_dir / POINTER} is unreadable ({error})") from None
    if not isinstance(pointer.get("version"), int):
        raise ModelRejected(f"{models_dir / POINTER} has no whole-number 'version'")
    return pointer


def read_live_metadata(models_dir: Path) -> dict | None:
    """The promoted model's metadata (without loading its pickle), or None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    if pointer is None:
        return None
    try:
        return json.loads((models_dir / folder_name(pointer["version"]) / METADATA_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{pointer['version']} has no readable {METADATA_FILE} ({error})") from None


def publish(models_dir: Path, model: object, metadata: dict, promote: bool) -> int:
    """Write a new model folder atomically, then move the pointer to it if `promote`; returns its version."""
    models_dir.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    checksum = sha256_bytes(blob)
    while True:
        version = max(list_versions(models_dir), default=0) + 1
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
        record = {"version": version, **metadata, "promoted": promote, "sha256": checksum}
        (staging / MODEL_FILE).write_bytes(blob)
        (staging / METADATA_FILE).write_text(json.dumps(record, indent=2) + "\n")
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, models_dir / folder_name(version))
            break
        except OSError:  # another trainer took this version first: try the next one
            shutil.rmtree(staging, ignore_errors=True)
    if promote:
        pointer = {"version": version, "folder": folder_name(version), "sha256": checksum}
        write_text_atomic(models_dir / POINTER, json.dumps(pointer) + "\n")
    return version


def load_version(models_dir: Path, version: int, expected_sha256: str | None = None) -> LoadedModel:
    """Load one model after checking its checksum and scikit-learn version; raise ModelRejected if not."""
    folder = models_dir / folder_name(version)
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text())
        blob = (folder / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} is incomplete or unreadable ({error})") from None
    actual = sha256_bytes(blob)
    for recorded in {metadata.get("sha256"), expected_sha256} - {None}:
        if actual != recorded:
            raise ModelRejected(f"model v{version}: {MODEL_FILE} sha256 {actual[:12]}... does not match "
                                f"the recorded {str(recorded)[:12]}... (corrupt or tampered)")
    if metadata.get("sklearn_version") != sklearn.__version__:
        raise ModelRejected(f"model v{version} was trained with scikit-learn {metadata.get('sklearn_version')}, "
                            f"this process has {sklearn.__version__}; retrain it here")
    try:
        model = pickle.loads(blob)
    except Exception as error:  # a pickle can fail in many ways; all mean: do not serve it
        raise ModelRejected(f"model v{version} cannot be unpickled ({type(error).__name__}: {error})") from None
    return LoadedModel(model, metadata)


def load_latest(models_dir: Path) -> LoadedModel | None:
    """The promoted model, verified; None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    if pointer is None:
        return None
    return load_version(models_dir, pointer["version"], pointer.get("sha256"))


def prune_models(models_dir: Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` model folders; the promoted one is always kept."""
    pointer = read_pointer(models_dir)
    live = pointer["version"] if pointer else None
    removed = []
    for version in list_versions(models_dir)[:-keep]:
        if version != live:
            shutil.rmtree(models_dir / folder_name(version), ignore_errors=True)
            removed.append(version)
    for staging in models_dir.glob(".staging-*"):  # left by a trainer killed mid-publish
        if time.time() - staging.stat().st_mtime > STALE_SECONDS:
            shutil.rmtree(staging, ignore_errors=True)
    return removed
