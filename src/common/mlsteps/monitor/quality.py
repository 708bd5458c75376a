"""The live model's quality from feedback (accuracy or mean absolute error), and the spread of its answers."""

from __future__ import annotations

import numpy as np


def _same(answer, actual) -> bool:
    """A label equals the truth: numbers as numbers (1 and 1.0 are one class), anything else as text."""
    if isinstance(answer, int | float) and isinstance(actual, int | float):
        return float(answer) == float(actual)
    return str(answer) == str(actual)


def live_quality(task: str, pairs: list[tuple], metadata: dict, max_drop: float, min_rows: int) -> dict:
    """The live metric, the holdout's for comparison, the rows it rests on, and whether it is too low."""
    pairs = [(answer, actual) for answer, actual in pairs if actual is not None]
    holdout = metadata.get("metrics", {})
    if task == "classification":
        metric, better = "accuracy", "higher"
        value = float(np.mean([_same(a, b) for a, b in pairs])) if pairs else None
        reference = holdout.get("accuracy")
        low = value is not None and reference is not None and value < reference * (1 - max_drop)
    elif task == "regression":
        numbers = [(a, b) for a, b in pairs if isinstance(a, int | float) and isinstance(b, int | float)]
        pairs = numbers
        metric, better = "mae", "lower"
        value = float(np.mean([abs(a - b) for a, b in numbers])) if numbers else None
        reference = holdout.get("mae")
        low = value is not None and reference is not None and value > reference * (1 + max_drop)
    else:
        return {
            "metric": None,
            "value": None,
            "rows": 0,
            "holdout": None,
            "quality_low": False,
            "note": "clustering has no ground truth to compare with",
        }
    enough = len(pairs) >= min_rows
    return {
        "metric": metric,
        "better": better,
        "value": None if value is None else round(value, 4),
        "rows": len(pairs),
        "holdout": reference,
        "quality_low": bool(low and enough),
        "note": "" if enough else f"{len(pairs)} rows with feedback; the verdict needs {min_rows}",
    }


def answer_distribution(task: str, answers: list) -> dict:
    """How often each label (or cluster) was answered, or a regression's values in ten bins."""
    if not answers:
        return {}
    if task == "regression":
        values = np.asarray([a for a in answers if isinstance(a, int | float)], dtype=float)
        if not len(values):
            return {}
        counts, edges = np.histogram(values, bins=10)
        return {"mean": round(float(values.mean()), 4), "bins": np.round(edges, 4).tolist(), "counts": counts.tolist()}
    labels, counts = np.unique([str(a) for a in answers], return_counts=True)
    return {"counts": {str(label): int(count) for label, count in zip(labels, counts, strict=True)}}
