"""Level 1: load-data, train and serve as three parallel processes on your machine.

Start reading here. The file is named for what it is: a single function (`main`) that runs all the
ML steps. It adds no ML of its own: each step is one call into the shared package (`mlsteps`), the
same calls that Docker Compose, kubectl and Helm make at levels 2 to 4. What this file adds is what
those levels get from their runtime: a first snapshot and model before serving (bootstrap), one
process per step (like one container per step), a supervisor that restarts a crashed step with
backoff (like `restart: unless-stopped`), a schedule (APScheduler, like a CronJob) and one clean stop.

Read `main` first, then `Supervisor`; then the package, in the order its `__init__` gives.

    python src/single_function/single_function_all_ml_steps.py --help
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import threading
import time
import urllib.request

try:
    import multiprocessing_logging
    import uvicorn  # noqa: F401  imported before fork, so the serve child starts at once
    from pydantic import Field

    import mlsteps.serve  # noqa: F401
    from mlsteps.cli import add_setting_options, flags_of, run_step, settings_from
    from mlsteps.config import MIN_INTERVAL_SECONDS, ConfigError, Settings
    from mlsteps.doctor import check_port
    from mlsteps.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, RuntimeFailure, UserError, explain, one_sentence
    from mlsteps.load_data import load_data
    from mlsteps.logs import setup_logging
    from mlsteps.train import train
    from mlsteps.volume.location import volume_of
except ImportError as missing:
    sys.exit(
        f"{missing}. Install the project first: run `make run` from the repository root "
        "(or `pipenv run python src/single_function/single_function_all_ml_steps.py`)."
    )

log = logging.getLogger("mlsteps.launcher")

STEPS = ("load-data", "train", "serve", "monitor")
STOP_SECONDS = 4.0
DRAIN_SECONDS = 0.5  # the steps have exited: their last records are already in the queue
BACKOFF_MAX_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # a step that ran this long is healthy again: its backoff starts over


class Level1Settings(Settings):
    """The package's settings, except that at level 1 every periodic step runs on an interval.

    Short intervals by default, so new versions show up quickly, and a short monitor window, so the
    drift demo of docs/monitoring.md needs few requests; the same MLSTEPS_* variables and flags change
    them, and 0 (which means "run once" to the CLI) is refused here.
    """

    load_data_every: float = Field(10.0, ge=MIN_INTERVAL_SECONDS, allow_inf_nan=False)
    train_every: float = Field(15.0, ge=MIN_INTERVAL_SECONDS, allow_inf_nan=False)
    monitor_every: float = Field(30.0, ge=MIN_INTERVAL_SECONDS, allow_inf_nan=False)
    monitor_window_rows: int = Field(300, ge=1)  # drift shows up, and goes away, within one `mlsteps traffic`


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The `mlsteps` CLI's own options: an option given here wins over its MLSTEPS_* variable."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_setting_options(
        parser,
        "port",
        "host",
        "data_dir",
        "dataset",
        "load_data_every",
        "train_every",
        "monitor_every",
        settings_class=Level1Settings,
    )
    return parser.parse_args(argv)


def load_level1_settings(args: argparse.Namespace) -> Settings:
    """Checked with the same rules as every level (one sentence naming the flag or variable)."""
    settings = settings_from(args, Level1Settings)
    return settings.model_copy(update={"data_dir": settings.data_dir.resolve()})


def check_port_free(settings: Settings) -> None:
    """The doctor's port check, as an error: serve would otherwise fail to start, again and again."""
    if not check_port(settings).ok:
        raise ConfigError(
            f"port {settings.port} on {settings.host} is in use (another mlsteps still running?); "
            "stop it or pick another with --port or MLSTEPS_PORT."
        )


def run_child(step: str, settings: Settings, flags: dict[str, str]) -> None:
    """The body of one child process: one step, until it is told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the launcher decides
    # Not the launcher's handler (inherited through fork): exit normally, so the log queue is flushed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if sys.platform == "linux":  # die with the launcher, even if it is killed with SIGKILL
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    sys.exit(run_step(step, settings, run_first=False, flags=flags))


class Supervisor:
    """Starts the steps, restarts a crashed one with backoff, stops them all on request."""

    def __init__(self, settings: Settings, flags: dict[str, str]):
        self.settings, self.flags = settings, flags  # flags: what a step's error names (errors.explain)
        self.context = multiprocessing.get_context("fork")  # children inherit imports and the log queue
        self.processes: dict[str, multiprocessing.Process] = {}
        self.started_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {step: 1.0 for step in STEPS}
        self.restart_at: dict[str, float] = {}
        self.stopping = False

    def start(self, step: str) -> None:
        process = self.context.Process(
            target=run_child, args=(step, self.settings, self.flags), name=step, daemon=False
        )
        process.start()
        self.processes[step] = process
        self.started_at[step] = time.monotonic()
        log.info("started %s (pid %d)", step, process.pid)

    def check(self) -> None:
        """Notice a step that died and start it again once its backoff has passed."""
        now = time.monotonic()
        for step, process in self.processes.items():
            if process.is_alive() or self.stopping:
                continue
            if step not in self.restart_at:
                if now - self.started_at[step] > HEALTHY_AFTER_SECONDS:
                    self.backoff[step] = 1.0
                delay = self.backoff[step]
                self.backoff[step] = min(delay * 2, BACKOFF_MAX_SECONDS)
                self.restart_at[step] = now + delay
                log.warning(
                    "%s (pid %d) exited with code %s; restarting in %gs", step, process.pid, process.exitcode, delay
                )
            elif now >= self.restart_at[step]:
                del self.restart_at[step]
                self.start(step)

    def stop(self) -> None:
        """SIGTERM every step, wait up to STOP_SECONDS, then SIGKILL what is left."""
        self.stopping = True
        for process in self.processes.values():
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for step, process in self.processes.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning("%s did not stop in %gs; killing it", step, STOP_SECONDS)
                process.kill()
                process.join(1)


def wait_until_ready(settings: Settings, supervisor: Supervisor, seconds: float = 30.0) -> bool:
    url = f"http://{settings.host}:{settings.port}/readyz"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not supervisor.stopping:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.1)
            supervisor.check()
    return False


def drain_child_logs() -> None:
    """Print every record the steps sent before they stopped, then log directly again.

    The handler's close() waits until the queue's count reaches zero, for up to 5 s. A step that was
    killed (SIGKILL, the OOM killer) can leave that count above what the queue holds, and the stop
    would then always take 5 s more: so wait at most DRAIN_SECONDS, in a helper thread.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, multiprocessing_logging.MultiProcessingHandler):
            closing = threading.Thread(target=handler.close, daemon=True)
            closing.start()
            closing.join(DRAIN_SECONDS)
    multiprocessing_logging.uninstall_mp_handler()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags = flags_of(args)
    try:
        settings = load_level1_settings(args)
        check_port_free(settings)
        setup_logging(settings.log_level, step="launcher")
        log.info("data dir: %s, dataset: %s", settings.store or settings.data_dir, settings.dataset)
        volume_of(settings).check()  # a folder to write, or a store that answers (MLSTEPS_STORE): else exit 2 now
        load_data(settings)  # bootstrap in order: a first snapshot, then a first model
        train(settings)
    except UserError as error:
        print(f"single_function_all_ml_steps: error: {explain(error, flags)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"single_function_all_ml_steps: error: {one_sentence(error)}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeFailure as error:  # e.g. the store stopped answering during the first snapshot
        print(f"single_function_all_ml_steps: error: {error}", file=sys.stderr)
        return EXIT_FAILED

    # Only now, with no error left to print: the queue's thread writes the children's records to stderr,
    # and a print beside it could land in the middle of one of them.
    multiprocessing_logging.install_mp_handler()  # children's records come back through one queue
    supervisor = Supervisor(settings, flags)

    def request_stop(signum, frame):
        if not supervisor.stopping:
            log.info("stopping all steps (%s)", signal.Signals(signum).name)
        supervisor.stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for step in STEPS:
        supervisor.start(step)
    if wait_until_ready(settings, supervisor):
        base = f"http://{settings.host}:{settings.port}"
        log.info(
            "ready: API %s  docs %s/docs  (new snapshot every %gs, new model every %gs; Ctrl-C stops)",
            base,
            base,
            settings.load_data_every,
            settings.train_every,
        )
    while not supervisor.stopping:
        supervisor.check()
        time.sleep(0.2)
    supervisor.stop()
    drain_child_logs()
    log.info("all steps stopped")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
