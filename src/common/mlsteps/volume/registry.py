"""Models on the shared volume: versioned folders, a checksum each, and a `latest.json` pointer.

A model folder appears by one atomic rename, complete; the pointer moves after it (also by rename),
so a reader that follows the pointer always finds a whole model. A pickle is loaded only when its
sha256 matches the one recorded at write time (so it is not corrupt), its HMAC signature matches
when MLSTEPS_SIGNING_KEY is set (so a key holder wrote it: a checksum alone cannot tell, anyone can
recompute one), and it was made by this scikit-learn version.
"""

from __future__ import annotations

import hmac
import json
import os
import pickle
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sklearn

from mlsteps.errors import setting_name
from mlsteps.volume.atomic import (
    hmac_sha256,
    is_stale,
    locked,
    remove_stale_temp_files,
    sha256_bytes,
    write_text_atomic,
)

POINTER = "latest.json"
MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
FOLDER = re.compile(r"^v(\d{6,})$")
REQUIRED_METADATA = ("version", "task", "feature_names", "primary_metric", "metrics", "sklearn_version", "sha256")
HIGH_WATER_MARK = ".last-model-version"  # beside models/: the highest version ever claimed on this volume


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
    if not isinstance(pointer, dict) or not isinstance(pointer.get("version"), int):
        raise ModelRejected(f"{models_dir / POINTER} has no whole-number 'version'")
    return pointer


def read_metadata(models_dir: Path, version: int) -> dict:
    """One model's metadata.json, without loading its pickle; ModelRejected when it cannot be read."""
    try:
        return json.loads((models_dir / folder_name(version) / METADATA_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} has no readable {METADATA_FILE} ({error})") from None


def read_live_metadata(models_dir: Path) -> dict | None:
    """The promoted model's metadata (without loading its pickle), or None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    return None if pointer is None else read_metadata(models_dir, pointer["version"])


def _lock_file(models_dir: Path) -> Path:
    """Beside models/, not in it: deleting the folder must not delete a lock someone holds."""
    return models_dir.parent / ".models.lock"


def _claim_version(models_dir: Path) -> int:
    """The next version number, never one used before on this volume (even if models/ was emptied)."""
    mark = models_dir.parent / HIGH_WATER_MARK
    try:
        last = int(mark.read_text())
    except (FileNotFoundError, ValueError):
        last = 0
    pointer = read_pointer_or_none(models_dir)
    version = max(last, pointer["version"] if pointer else 0, *list_versions(models_dir)) + 1
    write_text_atomic(mark, f"{version}\n")
    return version


def read_pointer_or_none(models_dir: Path) -> dict | None:
    """read_pointer, with an unreadable pointer treated as none (a writer replaces it)."""
    try:
        return read_pointer(models_dir)
    except ModelRejected:
        return None


def _write_folder(models_dir: Path, version: int, blob: bytes, record: dict, files: dict[str, bytes]) -> None:
    """Stage the pickle, its other files and its metadata in a hidden folder, then rename it into place, whole."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=models_dir))
    try:
        (staging / MODEL_FILE).write_bytes(blob)
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / METADATA_FILE).write_text(json.dumps(record, indent=2) + "\n")
        os.chmod(staging, 0o755)
        os.rename(staging, models_dir / folder_name(version))
    except BaseException:  # disk full, killed: leave nothing behind
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _move_pointer(models_dir: Path, version: int, checksum: str) -> None:
    pointer = {"version": version, "folder": folder_name(version), "sha256": checksum}
    write_text_atomic(models_dir / POINTER, json.dumps(pointer) + "\n")
    record = read_metadata(models_dir, version)
    if not record.get("promoted"):  # recorded only now that the pointer really moved
        write_text_atomic(
            models_dir / folder_name(version) / METADATA_FILE, json.dumps({**record, "promoted": True}, indent=2) + "\n"
        )


def _checksums(data: bytes, signing_key: str | None) -> dict:
    return {"sha256": sha256_bytes(data), **({"signature": hmac_sha256(data, signing_key)} if signing_key else {})}


def publish(
    models_dir: Path,
    model: object,
    metadata: dict,
    promote: bool,
    signing_key: str | None = None,
    files: dict[str, bytes] | None = None,
) -> int:
    """Write a new model folder atomically, then move the pointer to it if `promote`; returns its version.

    `files` go beside the pickle (the ONNX export), each with its checksum (and signature) in the metadata's
    `files`. All of it holds the volume's models lock, so two trainers cannot interleave: versions are
    claimed in order, and the pointer only ever moves forwards (`rollback` is the one way back).
    """
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    checked = _checksums(blob, signing_key)
    files = files or {}
    extra = {"files": {name: _checksums(data, signing_key) for name, data in files.items()}} if files else {}
    with locked(_lock_file(models_dir)):
        models_dir.mkdir(parents=True, exist_ok=True)
        version = _claim_version(models_dir)
        record = {"version": version, **metadata, **extra, "promoted": False, **checked}
        _write_folder(models_dir, version, blob, record, files)
        current = read_pointer_or_none(models_dir)
        if promote and (current is None or current["version"] < version):
            _move_pointer(models_dir, version, checked["sha256"])
    return version


def rollback(models_dir: Path, version: int, signing_key: str | None = None) -> LoadedModel:
    """Point `latest.json` at an older (or any) kept version, after checking it would load; the one way back."""
    with locked(_lock_file(models_dir)):
        kept = list_versions(models_dir)
        if version not in kept:
            raise ModelRejected(
                f"there is no model v{version} in {models_dir} (kept: {', '.join(f'v{v}' for v in kept) or 'none'})"
            )
        model = load_version(models_dir, version, signing_key=signing_key)  # the checks serve will make
        _move_pointer(models_dir, version, model.metadata["sha256"])
    return model


def _check_record(version: int, metadata: object) -> dict:
    """The metadata serve relies on is there, so a model that loads can also be described and used."""
    if not isinstance(metadata, dict):
        raise ModelRejected(f"model v{version}: {METADATA_FILE} is not a JSON object")
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise ModelRejected(f"model v{version}: {METADATA_FILE} lacks {', '.join(missing)}")
    names, metrics = metadata["feature_names"], metadata["metrics"]
    if not (isinstance(names, list) and names and all(isinstance(name, str) for name in names)):
        raise ModelRejected(f"model v{version}: {METADATA_FILE} has no list of feature names")
    if not (isinstance(metrics, dict) and isinstance(metrics.get(metadata["primary_metric"]), int | float)):
        raise ModelRejected(f"model v{version}: {METADATA_FILE} has no number for its primary metric")
    return metadata


def _check_blob(
    version: int, blob: bytes, metadata: dict, expected_sha256: str | None, signing_key: str | None
) -> None:
    """Checksum (corruption), signature (who wrote it, when a key is set) and scikit-learn version."""
    actual = sha256_bytes(blob)
    for recorded in {metadata["sha256"], expected_sha256} - {None}:
        if actual != recorded:
            raise ModelRejected(
                f"model v{version}: {MODEL_FILE} sha256 {actual[:12]}... does not match "
                f"the recorded {str(recorded)[:12]}... (corrupt or tampered)"
            )
    if signing_key is not None:
        signature = metadata.get("signature")
        if not signature:
            raise ModelRejected(
                f"model v{version} is unsigned, and {setting_name('signing_key')} is set: unsigned models "
                "are refused (train it again with the key)"
            )
        if not hmac.compare_digest(str(signature), hmac_sha256(blob, signing_key)):
            raise ModelRejected(
                f"model v{version}: its signature does not match {setting_name('signing_key')} "
                "(signed with another key, or tampered)"
            )
    if metadata["sklearn_version"] != sklearn.__version__:
        raise ModelRejected(
            f"model v{version} was trained with scikit-learn {metadata['sklearn_version']}, "
            f"this process has {sklearn.__version__}; retrain it here"
        )


def load_version(
    models_dir: Path, version: int, expected_sha256: str | None = None, signing_key: str | None = None
) -> LoadedModel:
    """Load one model only after every check passed (see _check_blob); raise ModelRejected if one fails.

    The checks come before unpickling because unpickling runs code: a pickle is trusted or not read.
    """
    folder = models_dir / folder_name(version)
    try:
        metadata = _check_record(version, json.loads((folder / METADATA_FILE).read_text()))
        blob = (folder / MODEL_FILE).read_bytes()
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} is incomplete or unreadable ({error})") from None
    _check_blob(version, blob, metadata, expected_sha256, signing_key)
    try:
        model = pickle.loads(blob)
    except Exception as error:  # a pickle can fail in many ways; all mean: do not serve it
        raise ModelRejected(f"model v{version} cannot be unpickled ({type(error).__name__}: {error})") from None
    return LoadedModel(model, metadata)


def read_model_file(models_dir: Path, version: int, name: str, signing_key: str | None = None) -> tuple[bytes, dict]:
    """(bytes, metadata) of a file published beside a model's pickle, after its checksum and signature matched.

    The pickle is neither read nor unpickled: this is how serve reads an ONNX export (MLSTEPS_RUNTIME=onnx).
    ModelRejected when the file is not there, or does not match what the metadata recorded.
    """
    folder = models_dir / folder_name(version)
    try:
        metadata = _check_record(version, json.loads((folder / METADATA_FILE).read_text()))
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} is incomplete or unreadable ({error})") from None
    recorded = metadata.get("files", {}).get(name)
    if recorded is None:
        raise ModelRejected(f"model v{version} has no {name}")
    try:
        data = (folder / name).read_bytes()
    except OSError as error:
        raise ModelRejected(f"model v{version}: {name} is unreadable ({error})") from None
    actual = _checksums(data, signing_key)
    if actual["sha256"] != recorded["sha256"]:
        raise ModelRejected(f"model v{version}: {name} does not match its recorded sha256 (corrupt or tampered)")
    if signing_key is not None and not hmac.compare_digest(str(recorded.get("signature")), actual["signature"]):
        raise ModelRejected(
            f"model v{version}: {name} is unsigned or its signature does not match {setting_name('signing_key')}"
        )
    return data, metadata


def load_latest(models_dir: Path, signing_key: str | None = None) -> LoadedModel | None:
    """The promoted model, verified; None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    if pointer is None:
        return None
    return load_version(models_dir, pointer["version"], pointer.get("sha256"), signing_key)


def prune_models(models_dir: Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` model folders (never the live one) and any stale leftovers."""
    with locked(_lock_file(models_dir)):
        try:
            pointer = read_pointer(models_dir)
        except ModelRejected:  # which model is live is unknown: delete no model until the pointer is fixed
            return []
        live = pointer["version"] if pointer else None
        removed = [version for version in list_versions(models_dir)[:-keep] if version != live]
        for version in removed:
            shutil.rmtree(models_dir / folder_name(version), ignore_errors=True)
        for staging in models_dir.glob(".staging-*"):  # left by a trainer killed mid-publish
            if is_stale(staging):
                shutil.rmtree(staging, ignore_errors=True)
        remove_stale_temp_files(models_dir)  # e.g. a pointer write cut short
    return removed
