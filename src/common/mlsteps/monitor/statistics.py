"""How far one feature's recent values moved from its training values: a population stability index (PSI)
and a two-sample test, for a column of numbers or of text.

PSI = sum over bins of (recent share - training share) * ln(recent share / training share). The bins are
the training values' deciles (numbers) or its categories (text), so each training bin holds about a tenth.
A PSI under 0.1 is usually read as "no change", 0.1 to 0.25 "some", above 0.25 "a shift" (the rule of
thumb credit scoring uses); MLSTEPS_DRIFT_PSI (0.2) sits near the top of "some". PSI is a size of the
change; it says nothing about whether the sample is large enough to trust it. The test does: SciPy's
Kolmogorov-Smirnov test (`ks_2samp`, numbers) or chi-squared test of independence (`chi2_contingency`,
categories) gives the probability of a difference this large between two samples of one distribution.
A feature drifts when both agree: PSI at least MLSTEPS_DRIFT_PSI and p below MLSTEPS_DRIFT_P_VALUE (0.01).
Either alone misleads: with many rows a test finds tiny, harmless shifts; with few, PSI is noisy.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2_contingency, ks_2samp

BINS = 10
FLOOR = 1e-4  # an empty bin's share: ln(0) has no value, and one empty bin must not make PSI infinite
MOST_CATEGORIES = 20  # a text column's commonest training categories; the rest are counted as "(other)"
MISSING, OTHER = "(missing)", "(other)"


def psi(reference_shares: np.ndarray, recent_shares: np.ndarray) -> float:
    """The population stability index of two distributions over the same bins (each summing to 1)."""
    expected = np.clip(reference_shares, FLOOR, None)
    actual = np.clip(recent_shares, FLOOR, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_drift(reference: np.ndarray, recent: np.ndarray) -> dict:
    """PSI over the training deciles and the Kolmogorov-Smirnov test; missing values (NaN) left out."""
    reference = np.asarray(reference, dtype=float)
    recent = np.asarray(recent, dtype=float)
    reference, recent = reference[~np.isnan(reference)], recent[~np.isnan(recent)]
    if not len(reference) or not len(recent):
        return {"psi": None, "test": "Kolmogorov-Smirnov", "statistic": None, "p_value": None, "bins": []}
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, BINS + 1)))
    inner = edges[1:-1]  # the outer bins are open-ended: recent values beyond the training range count too
    shares = [
        np.bincount(np.searchsorted(inner, values, side="right"), minlength=len(inner) + 1) / len(values)
        for values in (reference, recent)
    ]
    test = ks_2samp(reference, recent)
    labels = [f"< {inner[0]:.4g}"] if len(inner) else ["all"]
    labels += [f"{low:.4g} to {high:.4g}" for low, high in zip(inner[:-1], inner[1:], strict=True)]
    labels += [f">= {inner[-1]:.4g}"] if len(inner) else []
    return {
        "psi": round(psi(*shares), 4),
        "test": "Kolmogorov-Smirnov",
        "statistic": round(float(test.statistic), 4),
        "p_value": float(test.pvalue),
        "bins": labels,
        "reference_shares": np.round(shares[0], 4).tolist(),
        "recent_shares": np.round(shares[1], 4).tolist(),
    }


def _categories(values) -> list[str]:
    return [
        MISSING if value is None or (isinstance(value, float) and np.isnan(value)) else str(value) for value in values
    ]


def text_drift(reference, recent) -> dict:
    """PSI over the training categories and the chi-squared test of the two samples' counts."""
    reference, recent = _categories(reference), _categories(recent)
    if not reference or not recent:
        return {"psi": None, "test": "chi-squared", "statistic": None, "p_value": None, "bins": []}
    names, counts = np.unique(reference, return_counts=True)
    kept = [str(name) for name in names[np.argsort(-counts, kind="stable")][:MOST_CATEGORIES]]
    index = {name: i for i, name in enumerate(kept)}
    labels = [*kept, OTHER]

    def counted(values: list[str]) -> np.ndarray:
        return np.bincount([index.get(value, len(kept)) for value in values], minlength=len(labels))

    table = np.vstack([counted(reference), counted(recent)])
    seen = table.sum(axis=0) > 0  # a column of zeros has no expected count: the test cannot use it
    if seen.sum() > 1:
        test = chi2_contingency(table[:, seen])
        statistic, p_value = round(float(test.statistic), 4), float(test.pvalue)
    else:
        statistic, p_value = 0.0, 1.0  # one category in both samples: nothing differs
    shares = table / table.sum(axis=1, keepdims=True)
    return {
        "psi": round(psi(shares[0], shares[1]), 4),
        "test": "chi-squared",
        "statistic": statistic,
        "p_value": p_value,
        "bins": labels,
        "reference_shares": np.round(shares[0], 4).tolist(),
        "recent_shares": np.round(shares[1], 4).tolist(),
    }


def drifts(result: dict, psi_threshold: float, p_threshold: float) -> bool:
    """Both agree: the change is large (PSI) and unlikely to be chance (p)."""
    return result["psi"] is not None and result["psi"] >= psi_threshold and result["p_value"] < p_threshold
