"""The model being served: loaded once, swapped atomically when the `latest.json` pointer moves."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mlsteps.serve.acceptance import trial
from mlsteps.serve.onnx_runtime import load_latest_onnx
from mlsteps.serve.served_model import ServedModel
from mlsteps.serve.speed_tricks.linear_scorer import compile_linear
from mlsteps.volume.registry import POINTER, ModelRejected, load_latest

log = logging.getLogger("mlsteps.serve")
MISSING = ("missing",)  # the stamp of a pointer that is not there


class LiveModel:
    """Holds the current model; `refresh()` is cheap (one stat) unless the pointer changed.

    `refused` is why the last model tried was refused (None once one loads): with no model served,
    it is the difference between "nothing promoted yet" and "promoted, but this server cannot load it".
    """

    def __init__(
        self, models_dir: Path, signing_key: str | None = None, speed_tricks: bool = True, runtime: str = "sklearn"
    ):
        self.models_dir = models_dir
        self.signing_key = signing_key  # when set, only models signed with it are loaded
        self.speed_tricks = speed_tricks and runtime == "sklearn"  # False: the model answers, never the linear scorer
        self.load = load_latest_onnx if runtime == "onnx" else load_latest  # onnx: the .onnx file, no pickle read
        self.current: ServedModel | None = None
        self.reloads = 0
        self.rejected = 0
        self.refused: str | None = None
        self._seen: tuple | None = None

    def refresh(self) -> bool:
        """Load the promoted model if the pointer moved; True when a new model is now live."""
        try:
            stat = os.stat(self.models_dir / POINTER)
        except FileNotFoundError:
            self.refused = None  # nothing is promoted: nothing was refused either
            if self.current and self._seen != MISSING:  # said once: the folder or the pointer was deleted
                log.warning(
                    "%s is gone from the volume; still serving v%d until a model is promoted again",
                    self.models_dir / POINTER,
                    self.current.version,
                )
            self._seen = MISSING
            return False
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._seen:
            return False
        self._seen = stamp  # a bad model is reported once, not on every poll
        try:
            candidate = self._candidate()
        except ModelRejected as reason:
            self._refuse(str(reason))
            return False
        self.refused = None
        if candidate is None:
            return False
        self._serve(candidate)
        return True

    def _candidate(self) -> ServedModel | None:
        """The promoted model, loaded and tried on probe rows; None when it is the one already served.

        Whatever goes wrong (a refused file, metadata serve cannot use, a pickle that loads but cannot
        answer) is a ModelRejected: serve always starts, and the previous model keeps serving.
        """
        loaded = self.load(self.models_dir, self.signing_key)
        if loaded is None or (self.current and loaded.version == self.current.version):
            return None
        try:
            served = ServedModel(loaded, compile_linear(loaded.model) if self.speed_tricks else None)
            trial(served)
        except Exception as error:  # a loadable pickle is not yet a model that answers: say why, do not crash
            raise ModelRejected(
                f"model v{loaded.version} failed its trial on probe rows ({type(error).__name__}: {error})"
            ) from None
        return served

    def _refuse(self, reason: str) -> None:
        self.rejected += 1
        self.refused = reason
        keeping = f"still serving v{self.current.version}" if self.current else "no model is served yet"
        log.error("refused model: %s; %s", reason, keeping)

    def _serve(self, served: ServedModel) -> None:
        previous = self.current
        self.current = served  # one reference assignment: a request sees the old model or the new one
        self.reloads += 1
        metric = served.metadata["primary_metric"]
        log.info(
            "serving model v%d (%s=%.3f%s)%s",
            served.version,
            metric,
            served.metadata["metrics"][metric],
            ", fast path" if served.scorer else "",
            f", replacing v{previous.version}" if previous else "",
        )
