"""A model as serve holds it: the volume's record, plus the fast scorer that serving alone uses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mlsteps import model_contract
from mlsteps.serve.speed_tricks.linear_scorer import LinearScorer
from mlsteps.volume.registry import LoadedModel


@dataclass(frozen=True)
class ServedModel:
    """What answers requests: the model as the volume holds it, plus its fast scorer when one fits.

    The scorer belongs to serving, not to the volume's record: train and the registry never see it.
    """

    loaded: LoadedModel
    scorer: LinearScorer | None

    @property
    def version(self) -> int:
        return self.loaded.version

    @property
    def metadata(self) -> dict:
        return self.loaded.metadata

    @property
    def task(self) -> str:
        return self.loaded.metadata["task"]

    @cached_property
    def features(self) -> list[dict]:
        """Each feature's name and kind (number or text), in the order of a row given as a list."""
        return model_contract.features_of(self.loaded.metadata)

    @cached_property
    def outputs(self) -> list[str]:
        """What this model answers: always predictions; classes, probabilities, distances when it has them."""
        return model_contract.outputs(self.loaded.model, self.task)

    @cached_property
    def classes(self) -> list:
        """A classifier's classes in their own type (whole numbers stay integers in JSON)."""
        return np.asarray(self.loaded.model.classes_).tolist()

    @cached_property
    def labels(self) -> np.ndarray:
        """A classifier's classes as Python objects, for picking each row's label by index.

        numpy keeps text in fixed-width cells: picking 1,000 labels from those and turning them into
        Python strings took about 70 µs, from an object array about 15 µs (a 1,000-row batch of iris).
        """
        return np.asarray(self.classes + [None], dtype=object)[:-1]
