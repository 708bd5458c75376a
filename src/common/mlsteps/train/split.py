"""The holdout: rows the model never fits on, and no copy of them either, in this snapshot or the next.

A random split by row leaks when rows repeat: simulated new samples are noisy copies of base rows
drawn with replacement, and a real table may hold the same row twice. A copy in training and
another in the holdout makes the holdout score a memory test. So rows are split by group (the
base row a simulated row was drawn from; otherwise the row's own values), and a group's side is
fixed by a hash of it: the same group lands in the holdout in every snapshot. The live model,
trained on an older snapshot, never fitted on the newest holdout's groups either, so train can
score it on that same holdout, beside the new model (the promotion gate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlsteps.table import Table

HOLDOUT = 0.25  # the share of groups (and so, about, of rows) held out
MIN_SIDE = 2  # rows each side needs at least; below that, the share is taken in hash order instead


def group_keys(table: Table) -> np.ndarray:
    """One number per row; rows with the same number are copies of one another (or the same base row)."""
    if table.groups is not None:
        return pd.util.hash_array(np.asarray(table.groups, dtype=np.int64))
    whole = table.X if table.y is None else table.X.assign(__target__=table.y)
    return pd.util.hash_pandas_object(whole, index=False).to_numpy()


def holdout_mask(table: Table, seed: int) -> np.ndarray:
    """True for the rows held out: the groups whose seeded hash falls in the first HOLDOUT of its range."""
    salt = pd.util.hash_array(np.array([seed], dtype=np.uint64))[0]  # another seed, another (fixed) holdout
    keys = pd.util.hash_array(group_keys(table) ^ salt)
    position = keys / float(2**64)
    held = position < HOLDOUT
    if MIN_SIDE <= held.sum() <= len(held) - MIN_SIDE:
        return held
    # A table so small that chance left a side (nearly) empty: the lowest hashes, a quarter of the groups.
    ranks = np.unique(keys, return_inverse=True)[1]
    return ranks < max(1, round(HOLDOUT * (ranks.max() + 1)))
