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
from sklearn.model_selection import train_test_split

from mlsteps.config import Settings, ensure_writable_dir
from mlsteps.table import Table
from mlsteps.train.pipelines import describe, make_estimator
from mlsteps.train.tuning import search_space, silhouette, tune
from mlsteps.volume.registry import ModelRejected, prune_models, publish, read_live_metadata
from mlsteps.volume.snapshots import SnapshotRejected, list_snapshots, read_snapshot

log = logging.getLogger("mlsteps.train")

PRIMARY_METRIC = {"classification": "accuracy", "regression": "r2", "clustering": "silhouette"}  # higher: better
HOLDOUT = 0.25


@dataclass(frozen=True)
class TrainResult:
    version: int
    promoted: bool
    metrics: dict


def evaluate(estimator: BaseEstimator, X: np.ndarray, y: np.ndarray | None, task: str) -> dict:
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


def _split(table: Table, seed: int):
    if table.task == "clustering":  # no target: split the rows alone
        X_train, X_test = train_test_split(table.X, test_size=HOLDOUT, random_state=seed)
        return X_train, X_test, None, None
    stratify = None
    if table.task == "classification":
        _, counts = np.unique(table.y.astype(str), return_counts=True)
        if counts.min() >= 2:
            stratify = table.y
    return train_test_split(table.X, table.y, test_size=HOLDOUT, random_state=seed, stratify=stratify)


def _live_score(settings: Settings, table: Table) -> tuple[int, float] | None:
    """The live model's recorded holdout score, when it is comparable (same task and features)."""
    try:
        live = read_live_metadata(settings.models_dir)
    except ModelRejected as reason:
        log.warning("ignoring the current model: %s", reason)
        return None
    if live is None or live.get("feature_names") != table.feature_names or live.get("task") != table.task:
        return None
    return live["version"], live["metrics"][PRIMARY_METRIC[table.task]]


def _newest_good_snapshot(settings: Settings):
    """(Table, sidecar) of the newest snapshot that passes its checks; a damaged one is skipped, and said."""
    for path in reversed(list_snapshots(settings.snapshots_dir)):
        try:
            return read_snapshot(path)
        except SnapshotRejected as reason:
            log.warning("skipping a snapshot: %s", reason)
    return None


def train(settings: Settings) -> TrainResult | None:
    """Train on the newest snapshot; None (and a log line) when there is no data yet."""
    ensure_writable_dir(settings.models_dir)
    newest = _newest_good_snapshot(settings)
    if newest is None:
        log.info("no data snapshot yet in %s; nothing to train (the next run tries again)", settings.snapshots_dir)
        return None
    table, snapshot = newest
    X_train, X_test, y_train, y_test = _split(table, settings.seed)
    estimator = make_estimator(settings.pipeline, table.task)
    grid = search_space(settings, estimator, table.task)
    tuning = None
    if grid:
        estimator, tuning = tune(estimator, grid, X_train, y_train, table.task, settings.seed)
        log.info(
            "tuned %s: best %s (cross-validated %s %.3f over %d candidates)",
            describe(estimator),
            tuning["best_params"],
            tuning["scoring"],
            tuning["best_cv_score"],
            len(tuning["candidates"]),
        )
    pipeline = estimator.fit(X_train, y_train)
    metrics = evaluate(pipeline, X_test, y_test, table.task)
    metric = PRIMARY_METRIC[table.task]

    current = _live_score(settings, table)
    promoted = current is None or metrics[metric] >= current[1] - settings.promotion_tolerance
    metadata = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot": snapshot["file"],
        "snapshot_sequence": snapshot["sequence"],
        "source": table.source,
        "task": table.task,
        "target": table.target_name,
        "feature_names": table.feature_names,
        "classes": [str(c) for c in pipeline.classes_] if table.task == "classification" else None,
        "pipeline": settings.pipeline or "default",
        "estimator": describe(pipeline),
        "tuning": tuning,
        "metrics": metrics,
        "primary_metric": metric,
        "train_rows": len(X_train),
        "holdout_rows": len(X_test),
        "python_version": platform.python_version(),
        "sklearn_version": sklearn.__version__,
    }
    version = publish(settings.models_dir, pipeline, metadata, promote=promoted, signing_key=settings.signing_secret)
    prune_models(settings.models_dir, settings.keep_models)
    versus = f", live v{current[0]} had {current[1]:.3f}" if current else ""
    signed = "signed" if settings.signing_key else "unsigned: set MLSTEPS_SIGNING_KEY to sign models"
    verdict = "promoted" if promoted else "NOT promoted, it scores clearly worse"
    log.log(
        logging.INFO if promoted else logging.WARNING,
        "published model v%d (%s=%.3f%s) from %s: %s (%s)",
        *(version, metric, metrics[metric], versus, snapshot["file"], verdict, signed),
    )
    return TrainResult(version, promoted, metrics)
