"""The fine-tuning step: a cross-validated search over MLSTEPS_PARAM_GRID (and, for clustering, over k).

Train calls `tune` before the final fit when there is anything to search; it returns the estimator
with the best parameters set (not fitted) and a report for the model's metadata. Its folds keep each
group of copies together, as the holdout does (split.py): a copy in each fold would flatter a candidate.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import silhouette_score
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import Pipeline

from mlsteps.config import ConfigError, Settings
from mlsteps.train.pipelines import describe

MAX_FOLDS = 5
SCORING = {"classification": "accuracy", "regression": "r2"}  # clustering: silhouette, below


def silhouette(estimator: BaseEstimator, X, y=None) -> float:
    """How well separated the clusters are (-1 to 1, higher is better), in the space the model clusters in."""
    labels = estimator.predict(X)
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(X):
        return -1.0
    space = estimator[:-1].transform(X) if isinstance(estimator, Pipeline) and len(estimator) > 1 else X
    return float(silhouette_score(space, labels))


def search_space(settings: Settings, estimator: BaseEstimator, task: str) -> dict[str, list]:
    """MLSTEPS_PARAM_GRID, plus MLSTEPS_K_RANGE for a clusterer that has a number of clusters."""
    grid = dict(settings.tuning_grid)
    if task == "clustering":
        k_name = next((name for name in estimator.get_params() if name.split("__")[-1] == "n_clusters"), None)
        if k_name:
            grid.setdefault(k_name, settings.k_candidates)
    return grid


def _check_names(estimator: BaseEstimator, grid: dict[str, list]) -> None:
    known = estimator.get_params()
    unknown = [name for name in grid if name not in known]
    if unknown:
        valid = ", ".join(name for name in known if "__" in name and not name.endswith("__memory"))[:300]
        raise ConfigError(
            f"names {', '.join(unknown)}, not a parameter of {describe(estimator)}; valid names include: {valid}.",
            field="param_grid",
        )


def _folds(task: str, y: np.ndarray | None, groups: np.ndarray, seed: int):
    folds = min(MAX_FOLDS if task != "clustering" else 3, len(np.unique(groups)))
    if task == "classification":
        smallest = int(np.unique(y, return_counts=True)[1].min())
        if smallest < 2 or folds < 2:
            raise ConfigError(
                ": a class has fewer than 2 training rows, too few to cross-validate.", field="param_grid"
            )
        return StratifiedGroupKFold(min(folds, smallest), shuffle=True, random_state=seed)
    if folds < 2:
        raise ConfigError(": the training rows are copies of one row, too few to cross-validate.", field="param_grid")
    return GroupKFold(folds, shuffle=True, random_state=seed)


def tune(
    estimator: BaseEstimator,
    grid: dict[str, list],
    X,
    y: np.ndarray | None,
    task: str,
    seed: int,
    groups: np.ndarray | None = None,
) -> tuple[BaseEstimator, dict]:
    """(the estimator with the best parameters, unfitted; the search's report for the metadata)."""
    _check_names(estimator, grid)
    groups = np.arange(len(X)) if groups is None else groups
    search = GridSearchCV(
        clone(estimator),
        grid,
        scoring=SCORING.get(task, silhouette),
        cv=_folds(task, y, groups, seed),
        refit=False,
        error_score="raise",
    )
    try:
        search.fit(X, y, groups=groups)
    except (ValueError, TypeError) as error:  # e.g. a value the model refuses: C=-1
        raise ConfigError(f": a candidate could not be fitted ({error}).", field="param_grid") from None
    results = search.cv_results_
    report = {
        "best_params": search.best_params_,
        "best_cv_score": round(float(search.best_score_), 4),
        "scoring": SCORING.get(task, "silhouette"),
        "folds": search.n_splits_,
        "candidates": [
            {"params": params, "cv_score": round(float(mean), 4), "cv_std": round(float(std), 4)}
            for params, mean, std in zip(
                results["params"], results["mean_test_score"], results["std_test_score"], strict=True
            )
        ],
    }
    return clone(estimator).set_params(**search.best_params_), report
