"""The model being served: loaded once, swapped atomically when the `latest.json` pointer moves."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

from mlsteps.fast_path import compile_linear
from mlsteps.registry import POINTER, LoadedModel, ModelRejected, load_latest

log = logging.getLogger("mlsteps.serve")


class LiveModel:
    """Holds the current model; `refresh()` is cheap (one stat) unless the pointer changed."""

    def __init__(self, models_dir: Path):
        self.models_dir = models_dir
        self.current: LoadedModel | None = None
        self.reloads = 0
        self.rejected = 0
        self._seen: tuple | None = None

    def refresh(self) -> bool:
        """Load the promoted model if the pointer moved; True when a new model is now live."""
        try:
            stat = os.stat(self.models_dir / POINTER)
        except FileNotFoundError:
            return False
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._seen:
            return False
        self._seen = stamp  # a bad model is reported once, not on every poll
        try:
            loaded = load_latest(self.models_dir)
        except ModelRejected as reason:
            self.rejected += 1
            keeping = f"still serving v{self.current.version}" if self.current else "no model is served yet"
            log.error("refused model: %s; %s", reason, keeping)
            return False
        if loaded is None or (self.current and loaded.version == self.current.version):
            return False
        loaded = replace(loaded, fast=compile_linear(loaded.model, len(loaded.metadata["feature_names"])))
        previous = self.current
        self.current = loaded  # one reference assignment: a request sees the old model or the new one
        self.reloads += 1
        metric = loaded.metadata["primary_metric"]
        log.info("serving model v%d (%s=%.3f%s)%s", loaded.version, metric, loaded.metadata["metrics"][metric],
                 ", fast path" if loaded.fast else "", f", replacing v{previous.version}" if previous else "")
        return True
