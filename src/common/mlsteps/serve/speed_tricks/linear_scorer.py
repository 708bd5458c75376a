"""A faster way to answer with the same numbers: fold the scaler into the linear model's weights.

scikit-learn checks its inputs on every call, which costs ~250 µs for one row; the arithmetic itself
costs ~5 µs. The pipelines train builds for a table of numbers fill in missing values (SimpleImputer:
a missing value becomes the column's median, which changes nothing in a complete row), then scale
(StandardScaler: mean μ, scale σ per feature), then fit a linear model (weights W, intercept b).
Their decision for a row x is

    ((x - μ) / σ) · W + b  =  x · (W / σ)  +  (b - (μ / σ) · W)

so the scaling folds into new weights W' = W / σ (row i of W divided by σ_i) and a new intercept
b' = b - (μ / σ) · W, both computed once, when the model loads: one row then costs one small matrix
product. A Ridge's prediction is that decision. A LogisticRegression turns its decisions into
probabilities: with one decision (two classes) by the logistic function 1 / (1 + e^-d) for the
second class, with one decision per class by the softmax e^d_k / Σ_j e^d_j. Its label is what
scikit-learn's `predict` answers: the second class where the one decision is above 0, else the class
with the largest decision.

A few rows are scored in plain Python (`few_rows`): each numpy call costs about a microsecond whatever
its size, and a matrix product, a softmax and their checks take a dozen calls, about 18 µs of a one-row
request, where plain Python answers one row of iris in about 5 µs (rounding included).

The folded scorer is used only after it gave scikit-learn's own answers on probe rows, spread around
the training data, both ways; otherwise serve calls scikit-learn as usual, and the log says why.
"""

from __future__ import annotations

import logging
import math
import operator
from dataclasses import dataclass, field

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

log = logging.getLogger("mlsteps.serve")

PROBE_ROWS = 64  # random rows compared with scikit-learn's answers before the fast path is trusted
PROBE_SPREAD_SD = 2.0  # probes are drawn around the training mean, this many standard deviations wide
FEW_ROWS = 16  # up to this many rows, the softmax runs along the rows (see predict_proba)
TOLERANCE = 1e-9  # largest difference allowed from scikit-learn's probabilities or predictions
PYTHON_ROWS = 3  # up to this many rows, plain Python beats numpy (iris, one row: 4.6 µs against 12 µs)...
PYTHON_WORK = 256  # ...and up to this many multiplications (rows x features x outputs): digits' 640 a row do not


@dataclass(frozen=True)
class LinearScorer:
    """decision = X @ weights + bias, with the scaling already folded in."""

    weights: np.ndarray  # (features, outputs)
    bias: np.ndarray  # (outputs,)
    classes: np.ndarray | None  # None for a regression
    fill: np.ndarray | None = None  # each feature's value where one is missing (the imputer's); None: no imputer
    # The same numbers as Python floats, for `few_rows`: one tuple of weights per output.
    _columns: tuple[tuple[float, ...], ...] = field(init=False, repr=False, compare=False)
    _bias: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _fill: tuple[float, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_columns", tuple(map(tuple, self.weights.T.tolist())))
        object.__setattr__(self, "_bias", tuple(self.bias.tolist()))
        object.__setattr__(self, "_fill", None if self.fill is None else tuple(self.fill.tolist()))

    def decision(self, X: np.ndarray) -> np.ndarray:
        # A null in the request (NaN here) is filled in as the imputer would. A NaN anywhere makes the sum NaN:
        # one pass over X instead of two (infinities that sum to NaN only cost a np.where that changes nothing).
        if self.fill is not None and math.isnan(X.sum()):
            X = np.where(np.isnan(X), self.fill, X)
        return X @ self.weights + self.bias

    def label_index(self, decision: np.ndarray) -> np.ndarray:
        """Each row's class, as its index in `classes`: exactly what LogisticRegression.predict picks."""
        if decision.shape[1] == 1:
            return (decision[:, 0] > 0).astype(np.intp)
        return decision.argmax(axis=1)

    def predict_proba(self, X: np.ndarray, decision: np.ndarray | None = None) -> np.ndarray:
        decision = self.decision(X) if decision is None else decision
        if decision.shape[1] == 1:  # binary: the logistic function of one score
            positive = 1.0 / (1.0 + np.exp(-decision[:, 0]))
            return np.column_stack([1.0 - positive, positive])
        # The softmax. Subtracting each row's largest score first keeps exp from overflowing; it does not
        # change the answer. A batch is computed with the classes along the first axis: numpy reduces a
        # 1,000 x 3 matrix along its long axis several times faster than along its short one (about 70 µs
        # saved on a 1,000-row batch, benchmarks/bench_serve.py); a few rows skip the two copies that takes.
        if len(decision) <= FEW_ROWS:
            scores = decision - decision.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
            return scores
        scores = np.ascontiguousarray(decision.T)
        scores -= scores.max(axis=0)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=0)
        return np.ascontiguousarray(scores.T)  # rows again, in the layout orjson writes directly

    def few_rows(self, rows: int) -> bool:
        """True when `rows` rows cost less in plain Python (the `*_in_python` methods) than in numpy."""
        return rows <= PYTHON_ROWS and rows * len(self._columns) * len(self._columns[0]) <= PYTHON_WORK

    def decisions_in_python(self, rows: list[list[float]]) -> list[list[float]]:
        """`decision`, for a few rows given as lists: the same sums, without numpy's cost per call."""
        decisions = []
        for row in rows:
            if self._fill is not None and math.isnan(sum(row)):
                row = [
                    fill if value != value else value for value, fill in zip(row, self._fill, strict=True)
                ]  # NaN != NaN
            decisions.append(
                [sum(map(operator.mul, row, column)) + b for column, b in zip(self._columns, self._bias, strict=True)]
            )
        return decisions

    @staticmethod
    def label_indexes_in_python(decisions: list[list[float]]) -> list[int]:
        """`label_index` for decisions from `decisions_in_python` (the first of equal largest, as argmax)."""
        if len(decisions[0]) == 1:
            return [int(row[0] > 0) for row in decisions]
        return [row.index(max(row)) for row in decisions]

    @staticmethod
    def probabilities_in_python(decisions: list[list[float]]) -> list[list[float]]:
        """`predict_proba` for decisions from `decisions_in_python`, which must be finite numbers."""
        if len(decisions[0]) == 1:
            positives = [_logistic(d) for (d,) in decisions]
            return [[1.0 - positive, positive] for positive in positives]
        probabilities = []
        for row in decisions:
            top = max(row)
            scores = [math.exp(d - top) for d in row]
            total = sum(scores)
            probabilities.append([score / total for score in scores])
        return probabilities

    def predict(self, X: np.ndarray) -> np.ndarray:
        """A regression's values, or a classifier's labels (as `predict` answers them)."""
        decision = self.decision(X)
        if self.classes is not None:
            return self.classes[self.label_index(decision)]
        return decision[:, 0]


def _logistic(d: float) -> float:
    """1 / (1 + e^-d); where e^-d overflows (d below about -709), numpy's gives infinity, and the answer 0."""
    try:
        return 1.0 / (1.0 + math.exp(-d))
    except OverflowError:
        return 0.0


def _parts(model) -> tuple[SimpleImputer | None, StandardScaler] | None:
    """(imputer, scaler) of a foldable model's preparation: a StandardScaler, or a median/mean imputer then one."""
    prepare = model[0]
    if isinstance(prepare, StandardScaler):
        return None, prepare
    if (
        isinstance(prepare, Pipeline)
        and len(prepare.steps) == 2
        and isinstance(prepare[0], SimpleImputer)
        and prepare[0].strategy in ("mean", "median")
        and not prepare[0].add_indicator
        and len(prepare[0].statistics_) == prepare[1].n_features_in_
        and isinstance(prepare[1], StandardScaler)
    ):
        return prepare[0], prepare[1]
    return None


def is_foldable(model) -> bool:
    """True for a Pipeline of a StandardScaler (after a SimpleImputer, or not), then a LogisticRegression or a Ridge."""
    return (
        isinstance(model, Pipeline)
        and len(model.steps) == 2
        and isinstance(model[1], (LogisticRegression, Ridge))
        and _parts(model) is not None
    )


def fold(model: Pipeline) -> LinearScorer:
    """W' = W / σ and b' = b - (μ / σ) · W, for a model that `is_foldable`."""
    imputer, scaler = _parts(model)
    linear = model[1]
    scale = scaler.scale_ if scaler.with_std else np.ones_like(scaler.mean_)
    mean = scaler.mean_ if scaler.with_mean else np.zeros_like(scaler.mean_)
    coef = np.atleast_2d(linear.coef_)  # (outputs, features)
    weights = (coef / scale).T
    bias = np.atleast_1d(linear.intercept_) - (mean / scale) @ coef.T
    classes = linear.classes_ if isinstance(linear, LogisticRegression) else None
    fill = None if imputer is None else np.asarray(imputer.statistics_, dtype=float)
    return LinearScorer(weights, bias, classes, fill)


def probe_difference(scorer: LinearScorer, model: Pipeline, seed: int = 0) -> float:
    """The largest difference between the scorer's answers and the model's own, on random probe rows."""
    scaler = _parts(model)[1]
    spread = scaler.scale_ if scaler.with_std else np.ones_like(scaler.mean_)
    probes = np.random.default_rng(seed).normal(
        scaler.mean_, spread * PROBE_SPREAD_SD, size=(PROBE_ROWS, len(scaler.mean_))
    )
    if scorer.fill is not None:
        probes[0, :] = np.nan  # a row of missing values: filled in as the imputer fills them
    named = _as_fitted(model, probes)
    decisions = np.array(scorer.decisions_in_python(probes.tolist()))  # the few rows' way, on every probe
    if scorer.classes is not None:
        theirs = model.predict(named[1:])
        if not np.array_equal(scorer.predict(probes[1:]), theirs) or not np.array_equal(
            scorer.classes[scorer.label_indexes_in_python(decisions[1:].tolist())], theirs
        ):
            return float("inf")  # a label differs: never answer other labels than predict
        ours, theirs = scorer.predict_proba(probes), model.predict_proba(named)
        in_python = np.array(scorer.probabilities_in_python(decisions.tolist()))
    else:
        ours, theirs = scorer.predict(probes), model.predict(named)
        in_python = decisions[:, 0]
    if ours.shape != theirs.shape or in_python.shape != theirs.shape:  # e.g. a Ridge fitted on several targets
        return float("inf")
    return float(max(np.max(np.abs(ours - theirs)), np.max(np.abs(in_python - theirs))))


def _as_fitted(model, X: np.ndarray):
    """The probes as the model was fitted on them: a DataFrame with its column names, or the matrix."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=names)


def compile_linear(model) -> LinearScorer | None:
    """A LinearScorer that gives `model`'s answers, or None (logged, with the reason) when there is none."""
    if not is_foldable(model):
        log.info(
            "fast path not used: the model is a %s, not a Pipeline of StandardScaler then "
            "LogisticRegression or Ridge; scikit-learn answers every request",
            type(model).__name__,
        )
        return None
    scorer = fold(model)
    difference = probe_difference(scorer, model)
    if not difference <= TOLERANCE:
        log.warning(
            "fast path not used: on %d probe rows it differed from scikit-learn's answers by up to %.3g "
            "(tolerance %g); scikit-learn answers every request",
            PROBE_ROWS,
            difference,
            TOLERANCE,
        )
        return None
    return scorer
