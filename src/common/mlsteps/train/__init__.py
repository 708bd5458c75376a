"""The train step: fit a pipeline on the newest snapshot, evaluate it, publish it as a new version.

Read in this order: `step` (fit, evaluate, decide on promotion), `pipelines` (the built-in estimators
and yours), `tuning` (a grid search before the final fit; the K of K-means).
"""

from mlsteps.train.step import train

__all__ = ["train"]
