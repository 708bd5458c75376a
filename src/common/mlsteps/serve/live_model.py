"""The model being served: loaded once per version, swapped atomically when the `latest.json` pointer moves.

The pointer is all serve asks the volume for between models: a stat of a local file, or one small
conditional GET of an S3 object (its ETag: "not modified" has no body). A store that is down or slow
changes nothing for requests: the model in memory keeps answering, the change is logged once and
counted (`store_errors`, `store_up` in /metrics), and the next poll tries again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mlsteps.errors import RuntimeFailure
from mlsteps.serve.acceptance import trial
from mlsteps.serve.onnx_runtime import load_onnx_version
from mlsteps.serve.served_model import ServedModel
from mlsteps.serve.speed_tricks.linear_scorer import compile_linear
from mlsteps.volume.location import area
from mlsteps.volume.registry import POINTER, LoadedModel, ModelRejected, load_version, parse_pointer
from mlsteps.volume.store import UNCHANGED, Area

log = logging.getLogger("mlsteps.serve")


class LiveModel:
    """Holds the current model; `refresh()` is cheap (one stat or one small request) unless the pointer changed.

    `refused` is why the last model tried was refused (None once one loads): with no model served,
    it is the difference between "nothing promoted yet" and "promoted, but this server cannot load it".
    """

    def __init__(
        self, models: Area | Path, signing_key: str | None = None, speed_tricks: bool = True, runtime: str = "sklearn"
    ):
        self.models = area(models, "models")
        self.signing_key = signing_key  # when set, only models signed with it are loaded
        self.speed_tricks = speed_tricks and runtime == "sklearn"  # False: the model answers, never the linear scorer
        self.load = load_onnx_version if runtime == "onnx" else load_version  # onnx: the .onnx file, no pickle read
        self.current: ServedModel | None = None
        self.reloads = 0
        self.rejected = 0
        self.refused: str | None = None
        self.store_up = True  # the volume answered the last poll
        self.store_errors = 0  # polls the volume did not answer
        self._etag: str | None = None  # the pointer's tag when last read: unchanged, nothing is fetched
        self._missing_said = False

    def refresh(self) -> bool:
        """Load the promoted model if the pointer moved; True when a new model is now live."""
        try:
            found = self.models.store.get_if_changed(self.models.key(POINTER), self._etag)
            if found is UNCHANGED:
                self._store_answered()
                return False
            if found is None:
                self._store_answered()
                self._pointer_missing()
                return False
            loaded = self._load(found.data)
        except (RuntimeFailure, OSError) as error:  # the store is down or hung: keep serving, try next poll
            self._store_failed(error)
            return False
        except ModelRejected as reason:
            self._store_answered()
            self._etag = found.etag  # a bad model is reported once, not on every poll
            self._refuse(str(reason))
            return False
        self._store_answered()
        self._etag = found.etag
        self._missing_said = False
        self.refused = None
        if loaded is None:
            return False
        try:
            candidate = self._candidate(loaded)
        except ModelRejected as reason:
            self._refuse(str(reason))
            return False
        self._serve(candidate)
        return True

    def _load(self, pointer_data: bytes) -> LoadedModel | None:
        """The model the pointer names, fetched and verified; None when it is the one already served."""
        pointer = parse_pointer(self.models, pointer_data)
        if self.current and pointer["version"] == self.current.version:
            return None  # fetched once per version
        return self.load(self.models, pointer["version"], pointer.get("sha256"), self.signing_key)

    def _pointer_missing(self) -> None:
        self.refused = None  # nothing is promoted: nothing was refused either
        self._etag = None
        if self.current and not self._missing_said:  # said once: the folder or the pointer was deleted
            log.warning(
                "%s/%s is gone from the volume; still serving v%d until a model is promoted again",
                self.models,
                POINTER,
                self.current.version,
            )
        self._missing_said = True

    def _store_failed(self, error: BaseException) -> None:
        self.store_errors += 1
        if self.store_up:  # said once per change, not on every poll
            keeping = f"still serving v{self.current.version}" if self.current else "no model is served yet"
            log.error("the volume does not answer (%s); %s, and trying again every poll", error, keeping)
        self.store_up = False

    def _store_answered(self) -> None:
        if not self.store_up:
            log.info("the volume %s answers again", self.models.store.where)
        self.store_up = True

    def _candidate(self, loaded: LoadedModel) -> ServedModel:
        """The loaded model, tried on probe rows.

        Whatever goes wrong (a refused file, metadata serve cannot use, a pickle that loads but cannot
        answer) is a ModelRejected: serve always starts, and the previous model keeps serving.
        """
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
