"""The train step: fit a pipeline on the newest snapshot (tuned first, if asked), evaluate it, publish a version."""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

from mlsteps import model_contract
from mlsteps.config import ConfigError, Settings
from mlsteps.errors import RuntimeFailure
from mlsteps.table import Table, TargetError, guess_task, target_for
from mlsteps.train.onnx_export import export_files
from mlsteps.train.pipelines import choose, describe
from mlsteps.train.split import group_keys, holdout_mask
from mlsteps.train.tuning import search_space, silhouette, tune
from mlsteps.volume.location import models_area, monitor_area, snapshots_area
from mlsteps.volume.registry import ModelRejected, load_latest, prune_models, publish
from mlsteps.volume.reports import clear_retrain_request, read_retrain_request
from mlsteps.volume.snapshots import SnapshotRejected, list_snapshots, read_snapshot

log = logging.getLogger("mlsteps.train")

PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}  # higher: better


@dataclass(frozen=True)
class TrainResult:
    version: int
    promoted: bool
    metrics: dict


def evaluate(estimator: BaseEstimator, X, y: np.ndarray | None, task: str) -> dict:
    """Scores on the holdout rows, which the model never saw; the first is the one promotion compares."""
    if task == "clustering":
        return {"silhouette": round(silhouette(estimator, X), 4), "k": number_of_clusters(estimator)}
    predicted = estimator.predict(X)
    if task == "classification":
        return {
            "accuracy": round(float(accuracy_score(y, predicted)), 4),
            "f1_macro": round(float(f1_score(y, predicted, average="macro")), 4),
        }
    return {"r2": round(float(r2_score(y, predicted)), 4), "mae": round(float(mean_absolute_error(y, predicted)), 4)}


def number_of_clusters(estimator: BaseEstimator) -> int:
    model = estimator[-1] if hasattr(estimator, "steps") else estimator
    centers = getattr(model, "cluster_centers_", None)
    return int(len(centers)) if centers is not None else int(len(np.unique(getattr(model, "labels_", []))))


@dataclass(frozen=True)
class Plan:
    """What train fits and on what: the estimator, the task (and why), the target as that task needs it."""

    estimator: BaseEstimator
    task: str
    why: str
    y: np.ndarray | None


def plan(settings: Settings, table: Table) -> Plan:
    """The task (MLSTEPS_TASK, then the snapshot's declared one, then the estimator, then a guess) and the estimator.

    A contradiction stops train with one sentence (ConfigError, exit 2).
    """
    if settings.task != "auto" and table.task not in ("auto", settings.task):
        raise ConfigError(
            f"MLSTEPS_TASK={settings.task!r}, and the newest snapshot holds {table.task} data ({table.source}); "
            "set the same MLSTEPS_TASK for load-data and train."
        )
    declared = settings.task if settings.task != "auto" else (None if table.task == "auto" else table.task)
    if declared not in (None, "clustering") and table.y is None:
        raise ConfigError(f"the task is {declared}, and the newest snapshot has no target column to learn from.")
    guess = guess_task(table.y) if table.y is not None else ("clustering", "the data has no target")
    estimator, task, why = choose(settings.pipeline, declared, guess, table.features())
    if task == "clustering":
        return Plan(estimator, task, why, None)
    if table.y is None:
        raise ConfigError(f"the task is {task} ({why}), and the newest snapshot has no target column to learn from.")
    try:
        return Plan(estimator, task, why, target_for(task, table.y, table.target_name))
    except TargetError as error:
        raise ConfigError(f"{error} (the task is {task}: {why}).") from None


def _live_on_holdout(settings: Settings, table: Table, task: str, X_test, y_test) -> tuple[int, float] | None:
    """The live model's score on this same holdout, when it is comparable (same task and features)."""
    try:
        live = load_latest(models_area(settings), settings.signing_secret)
    except ModelRejected as reason:
        log.warning("ignoring the current model: %s", reason)
        return None
    if live is None or live.metadata.get("task") != task:
        return None
    if _kinds(model_contract.features_of(live.metadata)) != _kinds(table.features()):
        return None
    try:
        score = evaluate(live.model, X_test, y_test, task)[PRIMARY_METRIC[task]]
    except Exception as error:  # its columns changed kind, say: the new model is compared with nothing
        log.warning("the live model v%d cannot score the new holdout (%s); not comparing", live.version, error)
        return None
    return live.version, score


def _kinds(features: list[dict]) -> list[tuple[str, str]]:
    return [(feature["name"], feature["type"]) for feature in features]


def _tried(pipeline: BaseEstimator, X_test, task: str, features: list[dict]) -> list[str]:
    """The outputs the model has, once it answered the holdout and serve's probe rows as its contract says.

    RuntimeFailure (exit 1, one sentence) when it does not: a model serve would refuse is never published.
    """
    try:
        for rows in (X_test, model_contract.probe_frame(features)):
            model_contract.trial(pipeline, rows, task)
    except model_contract.ContractError as error:
        raise RuntimeFailure(f"the model ({describe(pipeline)}) is not published: {error}.") from None
    return model_contract.outputs(pipeline, task)


def _newest_good_snapshot(settings: Settings):
    """(Table, sidecar) of the newest snapshot that passes its checks; a damaged one is skipped, and said."""
    data = snapshots_area(settings)
    for sidecar in reversed(list_snapshots(data)):
        try:
            return read_snapshot(data, sidecar)
        except SnapshotRejected as reason:
            log.warning("skipping a snapshot: %s", reason)
    return None


def train(settings: Settings) -> TrainResult | None:
    """Train on the newest snapshot; None (and a log line) when there is no data yet."""
    newest = _newest_good_snapshot(settings)
    if newest is None:
        log.info("no data snapshot yet in %s; nothing to train (the next run tries again)", snapshots_area(settings))
        return None
    table, snapshot = newest
    request = read_retrain_request(monitor_area(settings))
    if request:
        log.info(
            "retraining because the monitor asked at %s (live model v%s): %s",
            request.get("requested_at"),
            request.get("model_version"),
            "; ".join(request.get("reasons") or ["no reason given"]),
        )
    chosen = plan(settings, table)
    task, estimator = chosen.task, chosen.estimator
    log.info("task: %s (%s)", task, chosen.why)
    held = holdout_mask(table, settings.seed)
    X_train, X_test = table.X[~held], table.X[held]
    y_train, y_test = (None, None) if chosen.y is None else (chosen.y[~held], chosen.y[held])
    grid = search_space(settings, estimator, task)
    tuning = None
    if grid:
        groups = group_keys(table)[~held]
        estimator, tuning = tune(estimator, grid, X_train, y_train, task, settings.seed, groups)
        log.info(
            "tuned %s: best %s (cross-validated %s %.3f over %d candidates)",
            describe(estimator),
            tuning["best_params"],
            tuning["scoring"],
            tuning["best_cv_score"],
            len(tuning["candidates"]),
        )
    pipeline = estimator.fit(X_train, y_train)
    outputs = _tried(pipeline, X_test, task, table.features())
    metrics = evaluate(pipeline, X_test, y_test, task)
    metric = PRIMARY_METRIC[task]

    current = _live_on_holdout(settings, table, task, X_test, y_test)
    promoted = current is None or metrics[metric] >= current[1] - settings.promotion_tolerance
    own = {
        "classes": pipeline.classes_.tolist() if task == "classification" else None,
        "pipeline": settings.pipeline or "default",
        "estimator": describe(pipeline),
        "tuning": tuning,
        "train_rows": len(X_train),
    }
    files, own["onnx"] = export_files(pipeline, X_test, task, table.features(), outputs, own["classes"])
    scored = {"task": task, "why": chosen.why, "features": table.features(), "outputs": outputs, "metric": metric}
    scored |= {"metrics": metrics, "holdout_rows": len(X_test), "current": current, "promoted": promoted}
    version = publish_version(settings, pipeline, snapshot=snapshot, table=table, scored=scored, own=own, files=files)
    versus = f", live v{current[0]} has {current[1]:.3f} on the same holdout" if current else ""
    signed = "signed" if settings.signing_key else "unsigned: set MLSTEPS_SIGNING_KEY to sign models"
    verdict = "promoted" if promoted else "NOT promoted, it scores clearly worse"
    log.log(
        logging.INFO if promoted else logging.WARNING,
        "published model v%d (%s=%.3f%s) from %s: %s (%s)",
        *(version, metric, metrics[metric], versus, snapshot["file"], verdict, signed),
    )
    if request:
        clear_retrain_request(monitor_area(settings), request)  # honoured: the monitor looks at v{version} afresh
    return TrainResult(version, promoted, metrics)


def publish_version(
    settings: Settings, model, *, snapshot: dict, table: Table, scored: dict, own: dict, files: dict | None = None
) -> int:
    """Publish `model` (and `files` beside it) as a new version with the metadata train and import-model share,
    plus its `own`; prune.

    `scored`: task, why (how the task was chosen), features, outputs, metric (the primary one), metrics (on
    the holdout), holdout_rows, current (the live model's version and score on the same holdout, or None)
    and promoted.
    """
    task, metric, current = scored["task"], scored["metric"], scored["current"]
    metadata = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot": snapshot["file"],
        "snapshot_sequence": snapshot["sequence"],
        "source": table.source,
        "task": task,
        "task_from": scored["why"],
        "target": table.target_name if task != "clustering" else "",
        "feature_names": table.feature_names,
        "features": scored["features"],
        "outputs": scored["outputs"],
        "metrics": scored["metrics"],
        "primary_metric": metric,
        "compared_with": None if current is None else {"version": current[0], metric: round(current[1], 4)},
        "holdout_rows": scored["holdout_rows"],
        "holdout": "by row group, fixed across snapshots (train/split.py)",
        "python_version": platform.python_version(),
        "sklearn_version": sklearn.__version__,
        **own,
    }
    promote, key = scored["promoted"], settings.signing_secret
    models = models_area(settings)
    version = publish(models, model, metadata, promote=promote, signing_key=key, files=files)
    prune_models(models, settings.keep_models)
    return version
