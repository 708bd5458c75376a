"""`mlsteps import-model FILE|URL`: a model trained elsewhere becomes a version like any train publishes.

The most common deployment: fit in a notebook, save with joblib, pickle or skops, deploy. The file
goes through what a trained model goes through, with train's own functions: its columns are checked
against the newest snapshot's, it answers that snapshot's holdout (`model_contract.trial`, then
`evaluate`: real metrics, not invented ones), the promotion gate compares it with the live model on
the same rows (unless --force), and it is published signed when MLSTEPS_SIGNING_KEY is set. The
metadata says where it came from (file name, sha256 of the file as given).

Unpickling a pickle or joblib file runs code: import only files you made or trust. A skops file is
read without running code; types skops does not trust by default are refused unless listed (--trust).
"""

from __future__ import annotations

import hashlib
import io
import logging
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from mlsteps import model_contract
from mlsteps.config import Settings
from mlsteps.errors import RuntimeFailure, UserError
from mlsteps.table import Table, TargetError, guess_task, target_for
from mlsteps.train.onnx_export import export_files
from mlsteps.train.pipelines import describe, is_fitted
from mlsteps.train.split import holdout_mask
from mlsteps.train.step import (
    PRIMARY_METRIC,
    _live_on_holdout,
    _newest_good_snapshot,
    _tried,
    evaluate,
    publish_version,
)
from mlsteps.volume.location import snapshots_area

log = logging.getLogger("mlsteps.import_model")

MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024  # a URL's answer is read into memory: no larger than this
DOWNLOAD_TIMEOUT_SECONDS = 60  # per network operation (connect, each read), as urllib counts it
ZIP_MAGIC = b"PK\x03\x04"  # a skops file is a zip archive


@dataclass(frozen=True)
class ImportResult:
    version: int
    promoted: bool
    metrics: dict


@dataclass(frozen=True)
class ModelFile:
    """The bytes as given, and where they came from (recorded as the model's provenance)."""

    name: str
    blob: bytes
    url: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.blob).hexdigest()


def is_url(where: str) -> bool:
    return urlparse(where).scheme in ("http", "https")


def read_model_file(where: str) -> ModelFile:
    """A local file, or an http(s) URL downloaded with a size limit and a timeout."""
    if is_url(where):
        return ModelFile(Path(urlparse(where).path).name or "model", download(where), where)
    path = Path(where)
    try:
        return ModelFile(path.name, path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"there is no file {where} to import.") from None
    except IsADirectoryError:
        raise UserError(f"{where} is a folder; give the model's file.") from None


def download(url: str, limit: int = MAX_DOWNLOAD_BYTES, timeout: float = DOWNLOAD_TIMEOUT_SECONDS) -> bytes:
    """The URL's body (stdlib urllib); RuntimeFailure for a network failure, UserError past `limit` bytes."""
    too_large = UserError(f"{url} is larger than {limit} bytes, the most import-model downloads.")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http and https only: is_url)
            if int(answer.headers.get("Content-Length") or 0) > limit:
                raise too_large
            blob = answer.read(limit + 1)
    except urllib.error.HTTPError as error:
        raise UserError(f"{url} answered HTTP {error.code} ({error.reason}); check the URL.") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise RuntimeFailure(f"cannot download {url} ({reason})") from None
    if len(blob) > limit:
        raise too_large
    return blob


def load_model(model_file: ModelFile, trusted: list[str] | None = None) -> tuple[object, str]:
    """(the object in the file, its format): skops when it is a zip archive, else pickle or joblib."""
    if model_file.blob.startswith(ZIP_MAGIC):
        return _load_skops(model_file, trusted or []), "skops"
    form = (
        "joblib"
        if model_file.name.endswith((".joblib", ".jbl")) or b"NumpyArrayWrapper" in model_file.blob
        else "pickle"
    )
    import joblib  # scikit-learn's own dependency; its load reads plain pickles too

    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            return joblib.load(io.BytesIO(model_file.blob)), form
        except InconsistentVersionWarning as mismatch:
            raise UserError(
                f"{model_file.name} was saved with scikit-learn {mismatch.original_sklearn_version}, and this "
                f"environment has {sklearn.__version__}; load and save it again with {sklearn.__version__}."
            ) from None
        except Exception as error:  # corrupt, not a pickle, or a class this environment cannot import
            raise UserError(
                f"{model_file.name} cannot be read as a pickle, joblib or skops file ({type(error).__name__}: {error})."
            ) from None


def _load_skops(model_file: ModelFile, trusted: list[str]) -> object:
    """skops reads the file without running its code; types it does not trust by default must be listed."""
    import skops.io

    try:
        untrusted = [name for name in skops.io.get_untrusted_types(data=model_file.blob) if name not in trusted]
        if untrusted:
            raise UserError(
                f"{model_file.name} holds types skops does not trust by default ({', '.join(untrusted)}); "
                "check them, then list each with --trust to import it."
            )
        return skops.io.loads(model_file.blob, trusted=trusted or None)
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"{model_file.name} cannot be read as a skops file ({type(error).__name__}: {error})."
        ) from None


def check_estimator(model: object, name: str) -> None:
    """A fitted scikit-learn estimator, or one sentence (exit 2) saying what it is instead."""
    if not (hasattr(model, "fit") and hasattr(model, "get_params") and hasattr(model, "predict")):
        raise UserError(
            f"{name} holds a {type(model).__name__}, not a scikit-learn estimator or pipeline with a predict method."
        )
    if not is_fitted(model):
        raise UserError(f"{name} holds an unfitted {describe(model)}; fit it before saving it, or let train fit it.")


def model_columns(model: object, table: Table, name: str) -> list[str]:
    """The snapshot's columns the model was fitted on, in the model's order; UserError when they do not match."""
    snapshot = table.feature_names
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        count = getattr(model, "n_features_in_", None)
        if count is not None and count != len(snapshot):
            raise UserError(
                f"{name} was fitted on {count} unnamed columns, and the newest snapshot has {len(snapshot)} "
                f"({', '.join(snapshot)}); fit it on a DataFrame with the snapshot's column names."
            )
        log.warning("%s was fitted without column names: it gets the snapshot's columns in their order", name)
        return snapshot
    names = [str(column) for column in names]
    missing = [column for column in names if column not in snapshot]
    if len(missing) == len(names):
        raise UserError(
            f"none of the columns {name} was fitted on ({', '.join(names[:5])}) is in the newest snapshot "
            f"({', '.join(snapshot[:5])}); load the data it was trained for (MLSTEPS_DATASET)."
        )
    if missing:
        raise UserError(
            f"{name} needs columns the newest snapshot lacks ({', '.join(missing)}); "
            "load data that has them (MLSTEPS_DATASET)."
        )
    unused = [column for column in snapshot if column not in names]
    if unused:
        log.info("the model does not use the snapshot's columns %s", ", ".join(unused))
    return names


def task_for(settings: Settings, model: object, table: Table, name: str) -> tuple[str, str]:
    """(task, why): declared (MLSTEPS_TASK, then the snapshot), else the estimator's kind, else the target's guess."""
    declared = settings.task if settings.task != "auto" else (None if table.task == "auto" else table.task)
    kind = model_contract.task_of(model)
    if declared and kind and declared != kind:
        raise UserError(f"{name} holds a model for {kind} ({describe(model)}), and the task is declared {declared}.")
    if declared:
        return declared, "declared"
    if kind:
        return kind, f"from the estimator: {describe(model)}"
    if table.y is None:
        return "clustering", "the data has no target"
    return guess_task(table.y)


def import_model(settings: Settings, where: str, force: bool = False, trusted: list[str] | None = None) -> ImportResult:
    """Check, evaluate and publish the model in `where` (a path or an http(s) URL); see the module's docstring."""
    newest = _newest_good_snapshot(settings)
    if newest is None:
        raise UserError(
            f"there is no data snapshot in {snapshots_area(settings)} to evaluate the model on; "
            "run `mlsteps load-data` first, with MLSTEPS_DATASET naming the data the model is for."
        )
    table, snapshot = newest
    model_file = read_model_file(where)
    model, form = load_model(model_file, trusted)
    name = model_file.name
    check_estimator(model, name)
    columns = model_columns(model, table, name)
    task, why = task_for(settings, model, table, name)
    table = replace(table, X=table.X[columns])  # the model's columns, in its order: what serve will send it
    features = table.features()
    y = None
    if task != "clustering":
        if table.y is None:
            raise UserError(f"{name} holds a model for {task}, and the newest snapshot has no target column.")
        try:
            y = target_for(task, table.y, table.target_name)
        except TargetError as error:
            raise UserError(f"{error}.") from None
    held = holdout_mask(table, settings.seed)
    X_test, y_test = table.X[held], None if y is None else y[held]
    try:
        outputs = _tried(model, X_test, task, features)
        metrics = evaluate(model, X_test, y_test, task)
    except RuntimeFailure as error:  # the file is the user's input: they must change it
        raise UserError(str(error)) from None
    except Exception as error:
        raise UserError(f"{name} cannot be scored on the holdout ({type(error).__name__}: {error}).") from None
    metric = PRIMARY_METRIC[task]
    current = _live_on_holdout(settings, table, task, X_test, y_test)
    promoted = force or current is None or metrics[metric] >= current[1] - settings.promotion_tolerance
    provenance = {"file": name, "sha256": model_file.sha256, "format": form, "url": model_file.url}
    own = {
        "classes": np.asarray(model.classes_).tolist() if task == "classification" else None,
        "pipeline": "imported",
        "estimator": describe(model),
        "imported": provenance,
        "tuning": None,
        "forced": force,
        "train_rows": None,  # trained elsewhere: unknown here
    }
    files, own["onnx"] = export_files(model, X_test, task, features, outputs, own["classes"])
    scored = {"task": task, "why": why, "features": features, "outputs": outputs, "metric": metric}
    scored |= {"metrics": metrics, "holdout_rows": len(X_test), "current": current, "promoted": promoted}
    version = publish_version(settings, model, snapshot=snapshot, table=table, scored=scored, own=own, files=files)
    versus = f", live v{current[0]} has {current[1]:.3f} on the same rows" if current else ""
    signed = "signed" if settings.signing_key else "unsigned: set MLSTEPS_SIGNING_KEY to sign models"
    verdict = "promoted" + (" (--force)" if force else "") if promoted else "NOT promoted, it scores clearly worse"
    log.log(
        logging.INFO if promoted else logging.WARNING,
        "imported %s (%s, sha256 %s...) as model v%d (%s=%.3f on %s's holdout%s): %s (%s)",
        *(name, form, model_file.sha256[:12], version, metric, metrics[metric], snapshot["file"], versus),
        *(verdict, signed),
    )
    return ImportResult(version, promoted, metrics)
