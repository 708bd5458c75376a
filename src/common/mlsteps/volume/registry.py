"""Models on the volume: versioned folders, a checksum each, and a `latest.json` pointer, in any Store.

A model is a pickle and its metadata.json, written in that order: a version exists once its metadata
does, so a reader never finds half a model. A version number is claimed by writing the pickle only if
no object has its name yet (two trainers cannot share one); the pointer moves by compare-and-swap on
the tag of the pointer that was read, only forwards, and only to a version that exists (`rollback` is
the one way back). A local folder also holds a lock around it all, as before the store. A pickle is
loaded only when its sha256 matches the one recorded at write time (so it is not corrupt), its HMAC
signature matches when MLSTEPS_SIGNING_KEY is set (so a key holder wrote it: a checksum alone cannot
tell, anyone can recompute one), and it was made by this scikit-learn version.

Pruning beside a pointer move, with no lock (S3). The danger: prune reads the pointer (v3), a rollback
moves it to v1, prune deletes v1; the pointer names a missing model. Two rules close every interleaving:

1. A mover (publish, rollback) reads the pointer, THEN checks its target (metadata there, no
   `retiring.json` mark), then replaces the pointer only if it still has the tag it read (`If-Match`).
2. prune reads the pointer, marks each version it will delete (`retiring.json`), then rewrites the
   pointer unchanged but for a fresh `write` id, by compare-and-swap on the tag it read (the "fence"),
   and deletes only if the fence succeeded (else it reads again; the marks stay: those versions are on
   their way out).

Why it holds, with M a mover to a version prune deletes, by when M's swap lands against prune's fence:
- before prune read the pointer: prune sees M's target live and keeps it;
- between prune's read and its fence: the pointer's tag changed, the fence fails, prune starts over;
- after the fence: M's swap needs the tag it read, so M read the pointer after the fence, checked its
  target after that, so after the marks: it sees the mark (or no metadata) and refuses.
At the fence the pointer names the live version, which prune keeps. Every write of the pointer carries a
fresh `write` id: S3's ETag is the body's MD5, so a pointer moved away and back would otherwise keep its
tag and let a stale swap through. A mover then records `promoted` in the metadata only over the one it
read (`If-Match`): had the pointer moved on and a prune deleted the version meanwhile, the metadata would
come back without its pickle. A mark older than STALE_SECONDS is ignored: a prune that crashed leaves
no lasting veto (the same assumption as for unfinished publishes: a step finishes within that time).
"""

from __future__ import annotations

import contextlib
import hmac
import json
import pickle
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import sklearn

from mlsteps.errors import setting_name
from mlsteps.volume.atomic import STALE_SECONDS, hmac_sha256, sha256_bytes
from mlsteps.volume.location import area
from mlsteps.volume.store import Area

POINTER = "latest.json"
MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
RETIRING_FILE = "retiring.json"  # prune's mark: this version is about to be deleted, never point at it
FOLDER = re.compile(r"^v(\d{6,})$")
REQUIRED_METADATA = ("version", "task", "feature_names", "primary_metric", "metrics", "sklearn_version", "sha256")
HIGH_WATER_MARK = ".last-model-version"  # beside models/: the highest version ever claimed on this volume
CLAIM_ATTEMPTS = 1000  # numbers tried before a publish gives up (only as many writers as that could race)
FENCE_ATTEMPTS = 10  # pointer reads a prune tries before it leaves deleting to the next prune


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


def _models(where: Area | Path) -> Area:
    return area(where, "models")


def _version_of(name: str) -> int | None:
    """The version in "v000001/metadata.json" (a finished model); None for any other key."""
    folder, _, file = name.partition("/")
    match = FOLDER.match(folder)
    return int(match.group(1)) if match and file == METADATA_FILE else None


def list_versions(models_dir: Area | Path) -> list[int]:
    """The finished models' versions (their metadata is written), oldest first."""
    return sorted(v for name in _models(models_dir).names() if (v := _version_of(name)) is not None)


def parse_pointer(models: Area, data: bytes) -> dict:
    """The pointer's JSON, checked; ModelRejected when it is not one."""
    try:
        pointer = json.loads(data)
    except ValueError as error:
        raise ModelRejected(f"{models}/{POINTER} is unreadable ({error})") from None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("version"), int):
        raise ModelRejected(f"{models}/{POINTER} has no whole-number 'version'")
    return pointer


def read_pointer(models_dir: Area | Path) -> dict | None:
    """The promoted model's pointer, or None when nothing was promoted yet."""
    models = _models(models_dir)
    try:
        data = models.store.get(models.key(POINTER))
    except OSError as error:
        raise ModelRejected(f"{models}/{POINTER} is unreadable ({error})") from None
    return None if data is None else parse_pointer(models, data)


def read_metadata(models_dir: Area | Path, version: int) -> dict:
    """One model's metadata.json, without loading its pickle; ModelRejected when it cannot be read."""
    return _read_metadata_versioned(_models(models_dir), version)[0]


def _read_metadata_versioned(models: Area, version: int) -> tuple[dict, str]:
    """read_metadata, with the object's tag (to rewrite it only if nobody changed or deleted it meanwhile)."""
    try:
        found = models.store.get_versioned(models.key(folder_name(version), METADATA_FILE))
        if found is None:
            raise FileNotFoundError(f"no {models}/{folder_name(version)}/{METADATA_FILE}")
        return json.loads(found.data), found.etag
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} has no readable {METADATA_FILE} ({error})") from None


def read_live_metadata(models_dir: Area | Path) -> dict | None:
    """The promoted model's metadata (without loading its pickle), or None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    return None if pointer is None else read_metadata(models_dir, pointer["version"])


def read_pointer_or_none(models_dir: Area | Path) -> dict | None:
    """read_pointer, with an unreadable pointer treated as none (a writer replaces it)."""
    try:
        return read_pointer(models_dir)
    except ModelRejected:
        return None


def _high_water_mark(models: Area) -> tuple[int, str | None]:
    """The highest version ever claimed (0: none) and the mark's tag, for moving it by compare-and-swap."""
    found = models.store.get_versioned(HIGH_WATER_MARK)
    try:
        return (int(found.data), found.etag) if found else (0, None)
    except ValueError:
        return 0, found.etag


def _raise_mark(models: Area, version: int) -> None:
    """Move the mark up to `version`, never down, whoever else moves it meanwhile."""
    while True:
        last, etag = _high_water_mark(models)
        if last >= version or models.store.replace_if(HIGH_WATER_MARK, f"{version}\n".encode(), etag):
            return


def _claim_version(models: Area, blob: bytes) -> int:
    """Write the pickle under the next free version number, never one used before on this volume (even if
    models/ was emptied), and return the number; the write itself is the claim (put_if_absent)."""
    names = models.names()
    used = [int(m.group(1)) for name in names if (m := FOLDER.match(name.partition("/")[0]))]
    pointer = read_pointer_or_none(models)
    version = max(_high_water_mark(models)[0], pointer["version"] if pointer else 0, *used) + 1
    for candidate in range(version, version + CLAIM_ATTEMPTS):
        if models.store.put_if_absent(models.key(folder_name(candidate), MODEL_FILE), blob):
            _raise_mark(models, candidate)
            return candidate
    raise RuntimeError(f"no free model version in {models} after {CLAIM_ATTEMPTS} tries")


def _write_metadata(models: Area, version: int, record: dict) -> None:
    models.store.put(models.key(folder_name(version), METADATA_FILE), (json.dumps(record, indent=2) + "\n").encode())


def _pointer_body(pointer: dict) -> bytes:
    """The pointer's bytes with a fresh `write` id: every write has a new ETag (see the module's docstring)."""
    return (json.dumps({**pointer, "write": f"{time.time_ns():x}-{secrets.token_hex(4)}"}) + "\n").encode()


def _retiring(models: Area, version: int) -> bool:
    """True when a prune marked `version` for deletion (within STALE_SECONDS): no pointer may name it now."""
    mark = models.store.get(models.key(folder_name(version), RETIRING_FILE))
    if mark is None:
        return False
    try:
        return time.time() - float(json.loads(mark)["since"]) < STALE_SECONDS
    except (ValueError, KeyError, TypeError):  # a mark that cannot be read is still a mark
        return True


def _move_pointer(models: Area, version: int, checksum: str, forwards_only: bool = True) -> bool:
    """Point latest.json at `version` by compare-and-swap; with `forwards_only`, never at an older version than
    the one it names. True when it moved (or already named `version`); False when `forwards_only` and the
    pointer names a newer one, or prune is deleting `version`. ModelRejected when `version` does not exist,
    or (a rollback) is being deleted: each try checks the target after reading the pointer (see the module)."""
    new = {"version": version, "folder": folder_name(version), "sha256": checksum}
    while True:
        found = models.store.get_versioned(models.key(POINTER))
        current = None
        if found is not None:
            try:
                current = parse_pointer(models, found.data)
            except ModelRejected:  # an unreadable pointer is replaced
                current = None
        if current is not None and forwards_only and current["version"] >= version:
            return current["version"] == version
        record, record_tag = _read_metadata_versioned(models, version)  # ModelRejected: the pointer stays
        if _retiring(models, version):
            if forwards_only:  # a newer version exists and retention is removing this one: nothing to promote
                return False
            raise ModelRejected(f"model v{version} is being deleted by retention (MLSTEPS_KEEP_MODELS)")
        if models.store.replace_if(models.key(POINTER), _pointer_body(new), found.etag if found else None):
            break
    if not record.get("promoted"):  # recorded only now that the pointer really moved, and only over the metadata
        # read: if the pointer moved on and a prune deleted this version meanwhile, it must not come back
        body = (json.dumps({**record, "promoted": True}, indent=2) + "\n").encode()
        models.store.replace_if(models.key(folder_name(version), METADATA_FILE), body, record_tag)
    return True


def _checksums(data: bytes, signing_key: str | None) -> dict:
    return {"sha256": sha256_bytes(data), **({"signature": hmac_sha256(data, signing_key)} if signing_key else {})}


def publish(
    models_dir: Area | Path,
    model: object,
    metadata: dict,
    promote: bool,
    signing_key: str | None = None,
    files: dict[str, bytes] | None = None,
) -> int:
    """Write a new model (pickle, its other files, then metadata), then move the pointer to it if `promote`.

    Returns its version. Versions are claimed by conditional writes, so two trainers never share one, even
    on two machines; the pointer only ever moves forwards (`rollback` is the one way back). A local folder
    also holds the volume's models lock throughout, as it always did. `files` go beside the pickle (the
    ONNX export), each with its checksum (and signature) in the metadata's `files`; the metadata comes last,
    so a reader never sees a version whose files are not all there.
    """
    models = _models(models_dir)
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    checked = _checksums(blob, signing_key)
    files = files or {}
    extra = {"files": {name: _checksums(data, signing_key) for name, data in files.items()}} if files else {}
    with models.store.writer_lock(models.name):
        version = _claim_version(models, blob)
        record = {"version": version, **metadata, **extra, "promoted": False, **checked}
        folder = folder_name(version)
        try:
            for name, data in files.items():
                models.store.put(models.key(folder, name), data)
            _write_metadata(models, version, record)
        except BaseException:  # metadata that is not JSON, a store gone: the claimed files must not stay behind
            with contextlib.suppress(Exception):  # best effort: prune removes a stale one later; the first error counts
                for name in [*files, MODEL_FILE]:
                    models.store.delete(models.key(folder, name))
            raise
        if promote:
            _move_pointer(models, version, checked["sha256"])
    return version


def rollback(models_dir: Area | Path, version: int, signing_key: str | None = None) -> LoadedModel:
    """Point `latest.json` at an older (or any) kept version, after checking it would load; the one way back."""
    models = _models(models_dir)
    with models.store.writer_lock(models.name):
        kept = list_versions(models)
        if version not in kept:
            raise ModelRejected(
                f"there is no model v{version} in {models} (kept: {', '.join(f'v{v}' for v in kept) or 'none'})"
            )
        model = load_version(models, version, signing_key=signing_key)  # the checks serve will make
        _move_pointer(models, version, model.metadata["sha256"], forwards_only=False)
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
    models_dir: Area | Path, version: int, expected_sha256: str | None = None, signing_key: str | None = None
) -> LoadedModel:
    """Load one model only after every check passed (see _check_blob); raise ModelRejected if one fails.

    The checks come before unpickling because unpickling runs code: a pickle is trusted or not read.
    """
    models = _models(models_dir)
    folder = folder_name(version)
    try:
        record = models.store.get(models.key(folder, METADATA_FILE))
        blob = models.store.get(models.key(folder, MODEL_FILE))
        if record is None or blob is None:
            missing = METADATA_FILE if record is None else MODEL_FILE
            raise FileNotFoundError(f"no {models}/{folder}/{missing}")
        metadata = _check_record(version, json.loads(record))
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version} is incomplete or unreadable ({error})") from None
    _check_blob(version, blob, metadata, expected_sha256, signing_key)
    try:
        model = pickle.loads(blob)
    except Exception as error:  # a pickle can fail in many ways; all mean: do not serve it
        raise ModelRejected(f"model v{version} cannot be unpickled ({type(error).__name__}: {error})") from None
    return LoadedModel(model, metadata)


def read_model_file(
    models_dir: Area | Path, version: int, name: str, signing_key: str | None = None
) -> tuple[bytes, dict]:
    """(bytes, metadata) of a file published beside a model's pickle, after its checksum and signature matched.

    The pickle is neither read nor unpickled: this is how serve reads an ONNX export (MLSTEPS_RUNTIME=onnx).
    ModelRejected when the file is not there, or does not match what the metadata recorded.
    """
    models = _models(models_dir)
    folder = folder_name(version)
    try:
        record = models.store.get(models.key(folder, METADATA_FILE))
        if record is None:
            raise FileNotFoundError(f"no {models}/{folder}/{METADATA_FILE}")
        metadata = _check_record(version, json.loads(record))
        recorded = metadata.get("files", {}).get(name)
        if recorded is None:
            raise ModelRejected(f"model v{version} has no {name}")
        data = models.store.get(models.key(folder, name))
        if data is None:
            raise FileNotFoundError(f"no {models}/{folder}/{name}")
    except (OSError, ValueError) as error:
        raise ModelRejected(f"model v{version}: {name} is missing or unreadable ({error})") from None
    actual = _checksums(data, signing_key)
    if actual["sha256"] != recorded["sha256"]:
        raise ModelRejected(f"model v{version}: {name} does not match its recorded sha256 (corrupt or tampered)")
    if signing_key is not None and not hmac.compare_digest(str(recorded.get("signature")), actual["signature"]):
        raise ModelRejected(
            f"model v{version}: {name} is unsigned or its signature does not match {setting_name('signing_key')}"
        )
    return data, metadata


def load_latest(models_dir: Area | Path, signing_key: str | None = None) -> LoadedModel | None:
    """The promoted model, verified; None when nothing was promoted yet."""
    pointer = read_pointer(models_dir)
    if pointer is None:
        return None
    return load_version(models_dir, pointer["version"], pointer.get("sha256"), signing_key)


def prune_models(models_dir: Area | Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` models (never the live one) and any stale leftovers.

    Marks, fences, then deletes, so that a rollback or a publish on another machine can never leave the
    pointer naming a deleted model (see the module's docstring)."""
    models = _models(models_dir)
    with models.store.writer_lock(models.name):
        removed = _fence_retiring(models, keep)
        for version in removed:  # metadata first: the version is gone for readers before its files are
            folder = folder_name(version)
            models.store.delete(models.key(folder, METADATA_FILE))
            for name in models.part(folder).names():  # the pickle, what was published beside it, the mark last
                if name not in (METADATA_FILE, RETIRING_FILE):
                    models.store.delete(models.key(folder, name))
            models.store.delete(models.key(folder, RETIRING_FILE))
        _remove_unfinished(models)
        models.store.remove_leftovers(models.name)  # e.g. a local pointer write cut short
    return removed


def _fence_retiring(models: Area, keep: int) -> list[int]:
    """The versions prune may delete now: marked retiring, then fenced by rewriting the pointer from the tag
    read before the marks. [] when no pointer is readable (which model is live is unknown, and a first
    promotion could not be fenced) or the pointer kept moving."""
    marked: set[int] = set()
    for _ in range(FENCE_ATTEMPTS):
        found = models.store.get_versioned(models.key(POINTER))
        if found is None:
            return []
        try:
            pointer = parse_pointer(models, found.data)
        except ModelRejected:  # delete no model until the pointer is fixed
            return []
        removed = [version for version in list_versions(models)[:-keep] if version != pointer["version"]]
        if not removed:
            return []
        for version in set(removed) - marked:
            mark = json.dumps({"since": time.time()}).encode()
            models.store.put(models.key(folder_name(version), RETIRING_FILE), mark)
            marked.add(version)
        fence = {key: value for key, value in pointer.items() if key != "write"}
        if models.store.replace_if(models.key(POINTER), _pointer_body(fence), found.etag):
            return removed
    return []


def _remove_unfinished(models: Area) -> None:
    """A version's files whose metadata never came (its trainer died mid-publish), once older than any running
    publish."""
    names = models.names()
    now = time.time()
    for name, modified in names.items():
        folder, _, file = name.partition("/")
        if file != METADATA_FILE and f"{folder}/{METADATA_FILE}" not in names and now - modified > STALE_SECONDS:
            models.store.delete(models.key(name))
