"""`mlsteps load-data | train | monitor | bootstrap | serve | import-model | rollback | show | traffic | doctor`:
the one entry point every level calls.

Each option sets one field of the settings, exactly as its MLSTEPS_* variable does; the level-1
launcher adds the same options to its own parser with `add_setting_options`, so there is one
vocabulary and one set of rules. Exit codes: 0 done, 1 the step failed at run time, 2 bad settings
or input (one sentence, no traceback, naming the flag the user typed or else the variable).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Mapping

from mlsteps import __version__
from mlsteps.config import Settings, dataset_choices, load_settings
from mlsteps.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, RuntimeFailure, UserError, env_name, explain
from mlsteps.logs import setup_logging

PERIODIC = ("load-data", "train", "monitor")
log = logging.getLogger("mlsteps.cli")

# field -> (flag, metavar, help). Values stay strings here: the settings parse and check them.
SETTING_OPTIONS = {
    "data_dir": ("--data-dir", "DIR", "shared folder for snapshots and models"),
    "dataset": ("--dataset", "NAME", dataset_choices()),
    "host": ("--host", "ADDRESS", "address serve listens on"),
    "port": ("--port", "PORT", "port serve listens on"),
    "load_data_every": ("--load-data-every", "SECONDS", "seconds between snapshots"),
    "train_every": ("--train-every", "SECONDS", "seconds between trainings"),
    "monitor_every": ("--monitor-every", "SECONDS", "seconds between monitor reports"),
}


def add_setting_options(
    parser: argparse.ArgumentParser, *fields: str, settings_class: type[Settings] = Settings
) -> None:
    """Add the flags for these settings fields; each defaults to None, meaning: the variable decides."""
    for field in fields:
        flag, metavar, summary = SETTING_OPTIONS[field]
        default = settings_class.model_fields[field].default
        parser.add_argument(flag, dest=field, metavar=metavar, help=f"{summary} ({env_name(field)}, default {default})")


def given_flags(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """field -> (flag, value) for every setting given on the command line."""
    given = {
        field: (SETTING_OPTIONS[field][0], getattr(args, field))
        for field in SETTING_OPTIONS
        if getattr(args, field, None) is not None
    }
    command = getattr(args, "command", None)
    if command in PERIODIC:  # a step's own --every/--cron set its <step>_every/_cron field
        step = command.replace("-", "_")
        for option in ("every", "cron"):
            if getattr(args, option) is not None:
                given[f"{step}_{option}"] = (f"--{option}", getattr(args, option))
    return given


def flags_of(args: argparse.Namespace) -> dict[str, str]:
    """field -> the flag that set it: what `errors.explain` names instead of the variable."""
    return {field: flag for field, (flag, _) in given_flags(args).items()}


def settings_from(args: argparse.Namespace, settings_class: type[Settings] = Settings) -> Settings:
    """Settings from the environment, with every flag that was given taking precedence; checked."""
    return load_settings(settings_class, **{field: value for field, (_, value) in given_flags(args).items()})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsteps",
        description="Load data, train and serve a scikit-learn model. "
        "Every option can also be set with its MLSTEPS_* environment variable.",
    )
    parser.add_argument("--version", action="version", version=f"mlsteps {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    add_setting_options(common, "data_dir", "dataset")
    steps = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in (
        ("load-data", "write a new data snapshot"),
        ("train", "train on the newest snapshot and publish a model"),
        ("monitor", "compare logged requests with the training data, judge feedback, write a report"),
    ):
        step = steps.add_parser(
            name,
            parents=[common],
            help=summary + " (once, or on a schedule)",
            description=summary.capitalize() + ". Runs once unless --every or --cron is given.",
        )
        field = name.replace("-", "_")
        step.add_argument(
            "--every", metavar="SECONDS", help=f"run every SECONDS seconds ({env_name(field + '_every')}; 0 = once)"
        )
        step.add_argument(
            "--cron",
            metavar="EXPR",
            help=f"run on a crontab schedule in UTC, e.g. '*/5 * * * *' ({env_name(field + '_cron')})",
        )
    bootstrap = steps.add_parser(
        "bootstrap", parents=[common], help="load-data then train, once (a fresh volume gets a model)"
    )
    bootstrap.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when latest.json already points to a model this scikit-learn can load",
    )
    doctor = steps.add_parser("doctor", parents=[common], help="check what a level needs, with a fix for each failure")
    doctor.add_argument("--level", type=int, choices=(1, 2, 3, 4), default=1, help="the level to check (default 1)")
    rollback = steps.add_parser(
        "rollback",
        parents=[common],
        help="point latest.json back at a kept model version",
        description="Serve an older model: move the pointer to VERSION, after checking it "
        "loads. The next train may promote a newer model again.",
    )
    rollback.add_argument("version", type=int, metavar="VERSION", help="a kept version, e.g. 3 for models/v000003")
    imported = steps.add_parser(
        "import-model",
        parents=[common],
        help="publish a model trained elsewhere (a pickle, joblib or skops file, or its http(s) URL)",
        description="Check a fitted estimator against the newest snapshot's columns, score it on that "
        "snapshot's holdout as train does, and publish it as a new version (promoted unless it scores "
        "clearly worse than the live model). Unpickling runs code: import only files you trust.",
    )
    imported.add_argument("file", metavar="FILE", help="a local file, or an http(s) URL to download")
    imported.add_argument("--force", action="store_true", help="promote it even if it scores worse than the live model")
    imported.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="TYPE",
        help="a type a skops file may hold beyond those skops trusts (repeat for each; the error lists them)",
    )
    steps.add_parser(
        "show", parents=[common], help="what is on the volume: newest snapshot's first rows, models, which is live"
    )
    serve = steps.add_parser("serve", parents=[common], help="serve predictions over HTTP (FastAPI)")
    add_setting_options(serve, "host", "port")
    traffic = steps.add_parser(
        "traffic",
        parents=[common],
        help="send serve rows from the newest snapshot (or shifted: --drift), with feedback if asked",
        description="A demo client: sends rows drawn from the newest snapshot to serve's /predict, one request "
        "each; --drift shifts every number column by two standard deviations (text columns to their rarest "
        "value); --feedback posts each row's true answer to /feedback.",
    )
    add_setting_options(traffic, "host", "port")
    traffic.add_argument("--requests", type=int, default=300, help="how many requests to send (default 300)")
    traffic.add_argument("--drift", action="store_true", help="shift the rows away from the training data")
    traffic.add_argument("--feedback", action="store_true", help="post each row's true answer to /feedback")
    return parser


def roll_back(settings: Settings, version: int) -> int:
    """`mlsteps rollback VERSION`: the one way the pointer moves backwards."""
    from mlsteps.volume.location import models_area
    from mlsteps.volume.registry import ModelRejected, rollback

    try:
        model = rollback(models_area(settings), version, settings.signing_secret)
    except ModelRejected as reason:
        raise UserError(f"cannot roll back to v{version}: {reason}.") from None
    metric = model.metadata["primary_metric"]
    log.info(
        "rolled back: latest.json points to v%d (%s=%.3f); serve picks it up within %gs",
        version,
        metric,
        model.metadata["metrics"][metric],
        settings.reload_seconds,
    )
    return EXIT_OK


def import_model_command(settings: Settings, args: argparse.Namespace) -> int:
    """`mlsteps import-model FILE`: a user's mistake raises UserError (exit 2); a failing disk or network is exit 1."""
    from mlsteps.errors import one_sentence
    from mlsteps.train.import_model import import_model

    try:
        import_model(settings, args.file, force=args.force, trusted=args.trust)
    except RuntimeFailure as error:
        log.error("import-model failed: %s", error)
        return EXIT_FAILED
    except OSError as error:
        log.error("import-model failed: %s", one_sentence(error))
        return EXIT_FAILED
    return EXIT_OK


def servable_model(settings: Settings) -> int | None:
    """The version of the promoted model if serve could load it here and now (checksum, signature, scikit-learn)
    and it passes the trial serve makes (model_contract.trial on probe rows)."""
    from mlsteps import model_contract
    from mlsteps.volume.location import models_area
    from mlsteps.volume.registry import ModelRejected, load_latest

    try:
        model = load_latest(models_area(settings), settings.signing_secret)
        if model is not None:
            model_contract.trial_loaded(model)
    except (ModelRejected, model_contract.ContractError) as reason:
        log.info("the promoted model cannot be served here (%s): training a new one", reason)
        return None
    return model.version if model else None


def step_function(command: str):
    """The step a command runs, imported only then: load-data never pays for train's scikit-learn imports."""
    if command == "load-data":
        from mlsteps.load_data import load_data

        return load_data
    if command == "monitor":
        from mlsteps.monitor import monitor

        return monitor
    from mlsteps.train import train

    return train


def serve_until_stopped(settings: Settings) -> int:
    """Serve until Ctrl-C or SIGTERM, and stop without a traceback, however the Ctrl-C falls.

    While serve starts (seconds of imports), a Ctrl-C is remembered, not raised: raised, it could land in
    a callback Python ignores ("Exception ignored in ..."), and serve would start all the same. uvicorn
    handles the signals while it runs, then sends them again: to this same handler, so they end nothing
    that is still running. Where Ctrl-C is ignored (the level-1 launcher's children), it stays ignored.
    """
    stop: list[int] = []
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    from mlsteps.serve import run_server

    if not stop:
        run_server(settings)
    return EXIT_OK


def retrain_requested(settings: Settings):
    """For train's schedule: the pending retrain request's time, so train runs on its next tick (monitor asked).

    A volume that does not answer is no request (said once per change): train's own next run fails loudly."""
    from mlsteps.volume.location import monitor_area
    from mlsteps.volume.reports import read_retrain_request

    monitor, failing = monitor_area(settings), []

    def token() -> str | None:
        try:
            request = read_retrain_request(monitor)
        except (OSError, RuntimeFailure) as error:
            if not failing:
                log.warning("cannot look for a retrain request in %s (%s); looking again", monitor, error)
            failing[:] = [True]
            return None
        failing.clear()
        return None if request is None else str(request.get("requested_at"))

    return token


def check_volume(settings: Settings, writing: bool = True) -> None:
    """A folder this user may write, or a store whose endpoint, bucket and credentials answer: else a
    UserError naming the setting (exit 2) now, rather than a failure in the middle of a step."""
    from mlsteps.volume.location import volume_of

    volume_of(settings).check(writing=writing)


def run_step(
    command: str,
    settings: Settings,
    run_first: bool = True,
    if_missing: bool = False,
    flags: Mapping[str, str] | None = None,
) -> int:
    """Run one command with checked settings; a scheduled step blocks until stopped.

    `flags` (field -> flag, see `flags_of`) lets a failing step's sentence name the flag the user typed.
    """
    check_volume(settings, writing=command != "serve")
    if command == "serve":  # serve only reads the volume: it may be mounted read-only
        return serve_until_stopped(settings)
    from mlsteps.schedule import run_guarded, run_on_schedule

    if command == "bootstrap":
        if if_missing and (version := servable_model(settings)) is not None:
            log.info("model v%d is promoted and loads with this scikit-learn: nothing to bootstrap", version)
            return EXIT_OK
        load_data, train = step_function("load-data"), step_function("train")
        return run_guarded(lambda: load_data(settings), "load-data", flags) or run_guarded(
            lambda: train(settings), "train", flags
        )
    step = step_function(command)
    field = command.replace("-", "_")
    every, cron = getattr(settings, f"{field}_every"), getattr(settings, f"{field}_cron")
    if every or cron:
        wake = retrain_requested(settings) if command == "train" else None
        run_on_schedule(lambda: step(settings), command, every, cron, run_first=run_first, flags=flags, wake=wake)
        return EXIT_OK
    return run_guarded(lambda: step(settings), command, flags)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    flags = flags_of(args)
    try:
        settings = settings_from(args)
        if args.command == "doctor":
            from mlsteps.doctor import run_doctor

            return run_doctor(args.level, settings)
        if args.command == "show":
            from mlsteps.show import show

            return show(settings)
        if args.command == "traffic":
            from mlsteps.traffic import send_traffic

            return send_traffic(settings, args.requests, drift=args.drift, feedback=args.feedback)
        setup_logging(settings.log_level, step=args.command)
        if args.command == "rollback":
            check_volume(settings)
            return roll_back(settings, args.version)
        if args.command == "import-model":
            check_volume(settings)
            return import_model_command(settings, args)
        return run_step(args.command, settings, if_missing=getattr(args, "if_missing", False), flags=flags)
    except UserError as error:
        print(f"mlsteps {args.command}: error: {explain(error, flags)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeFailure as error:  # e.g. the store stopped answering while show, traffic or rollback read it
        print(f"mlsteps {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
