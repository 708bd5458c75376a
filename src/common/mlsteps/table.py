"""The table every step passes on: load-data makes it, the volume stores it, train fits on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Table:
    """Features, target and what they mean: the unit that moves from load-data to train."""

    feature_names: list[str]
    X: np.ndarray
    y: np.ndarray | None  # None for clustering: there is nothing to predict, only groups to find
    task: str  # "classification", "regression" or "clustering"
    target_name: str
    source: str
