"""Run a step once, or again and again on an interval and/or a cron schedule (APScheduler)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from mlsteps.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, RuntimeFailure, UserError, explain, one_sentence

log = logging.getLogger("mlsteps.schedule")
WAKE_SECONDS = 2.0  # how often a scheduled step looks for a reason to run before its time (a retrain request)


def run_guarded(step: Callable[[], object], name: str, flags: Mapping[str, str] | None = None) -> int:
    """Run one step and return its exit code; the schedule goes on whatever happened.

    A bad input or a failing disk is one log line (the user can act on it, and a setting at fault is
    named by the flag in `flags` that gave it, else by its variable); only a bug, which the user
    cannot act on, shows a traceback.
    """
    try:
        step()
        return EXIT_OK
    except UserError as error:
        log.error("%s failed: %s", name, explain(error, flags))
        return EXIT_BAD_INPUT
    except RuntimeFailure as error:
        log.error("%s failed: %s", name, error)
    except OSError as error:
        log.error("%s failed: %s", name, one_sentence(error))
    except Exception:
        log.exception("%s failed with an unexpected error", name)
    return EXIT_FAILED


def run_on_schedule(
    step: Callable[[], object],
    name: str,
    every: float,
    cron: str,
    run_first: bool = True,
    flags: Mapping[str, str] | None = None,
    wake: Callable[[], object] | None = None,
) -> None:
    """Block, running `step` every `every` seconds and/or at `cron` times, until SIGTERM or Ctrl-C.

    `wake`, when given, is asked every WAKE_SECONDS for a token (e.g. a retrain request's time): a token
    not seen before runs the step now, on its next tick rather than at its next scheduled time.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    triggers = []
    if every:
        triggers.append(IntervalTrigger(seconds=every, timezone=UTC))
    if cron:
        triggers.append(CronTrigger.from_crontab(cron, timezone=UTC))
    trigger = triggers[0] if len(triggers) == 1 else OrTrigger(triggers)
    scheduler = BlockingScheduler(timezone=UTC)
    first = {"next_run_time": datetime.now(UTC)} if run_first else {}
    scheduler.add_job(
        run_guarded,
        trigger,
        args=[step, name, flags],
        id=name,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        **first,
    )

    if wake is not None:
        seen: list[object] = []

        def run_now_if_woken() -> None:
            token = wake()
            if token is not None and token not in seen:
                seen.append(token)
                log.info("%s: asked to run now", name)
                scheduler.modify_job(name, next_run_time=datetime.now(UTC))

        scheduler.add_job(run_now_if_woken, IntervalTrigger(seconds=WAKE_SECONDS, timezone=UTC), id=f"{name}-wake")

    def stop(signum, frame):
        log.info("%s: stopping (%s)", name, signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    plan = " and ".join(([f"every {every:g}s"] if every else []) + ([f"cron '{cron}' (UTC)"] if cron else []))
    log.info("%s: scheduled %s", name, plan)
    scheduler.start()
