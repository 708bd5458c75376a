"""One log line per event, tagged with the step that wrote it."""

from __future__ import annotations

import logging
import multiprocessing

FORMAT = "%(asctime)s %(processName)-9s %(levelname)-7s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def setup_logging(level: str = "INFO", step: str | None = None) -> None:
    """Log to stderr; the process name (the step) is the tag, so merged logs stay readable."""
    if step:
        multiprocessing.current_process().name = step
    logging.basicConfig(level=level, format=FORMAT, datefmt=DATE_FORMAT, force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # we log each run ourselves
