"""`mlsteps load-data | train | bootstrap | serve | doctor`: the one entry point every level calls.

Each option sets one field of the settings, exactly as its MLSTEPS_* variable does; the level-1
launcher adds the same options to its own parser with `add_setting_options`, so there is one
vocabulary and one set of rules. Exit codes: 0 done, 1 the step failed at run time, 2 bad settings
or input (one sentence, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from mlsteps import __version__
from mlsteps.config import ConfigError, Settings, ensure_writable_dir, env_name, load_settings
from mlsteps.datasets import DataError
from mlsteps.logs import setup_logging

PERIODIC = ("load-data", "train")

# field -> (flag, metavar, help). Values stay strings here: the settings parse and check them.
SETTING_OPTIONS = {
    "data_dir": ("--data-dir", "DIR", "shared folder for snapshots and models"),
    "dataset": ("--dataset", "NAME", "iris, wine, breast_cancer, digits, diabetes or csv:<path>"),
    "host": ("--host", "ADDRESS", "address serve listens on"),
    "port": ("--port", "PORT", "port serve listens on"),
    "load_data_every": ("--load-data-every", "SECONDS", "seconds between snapshots"),
    "train_every": ("--train-every", "SECONDS", "seconds between trainings"),
}


def add_setting_options(parser: argparse.ArgumentParser, *fields: str,
                        settings_class: type[Settings] = Settings) -> None:
    """Add the flags for these settings fields; each defaults to None, meaning: the variable decides."""
    for field in fields:
        flag, metavar, summary = SETTING_OPTIONS[field]
        default = settings_class.model_fields[field].default
        parser.add_argument(flag, dest=field, metavar=metavar,
                            help=f"{summary} ({env_name(field)}, default {default})")


def settings_from(args: argparse.Namespace, settings_class: type[Settings] = Settings) -> Settings:
    """Settings from the environment, with every flag that was given taking precedence; checked."""
    values = {field: getattr(args, field) for field in SETTING_OPTIONS if getattr(args, field, None) is not None}
    flags = {field: SETTING_OPTIONS[field][0] for field in values}
    command = getattr(args, "command", None)
    if command in PERIODIC:  # a step's own --every/--cron set its <step>_every/_cron field
        step = command.replace("-", "_")
        for option in ("every", "cron"):
            if getattr(args, option) is not None:
                values[f"{step}_{option}"] = getattr(args, option)
                flags[f"{step}_{option}"] = f"--{option}"
    return load_settings(settings_class, flags=flags, **values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsteps", description="Load data, train and serve a scikit-learn model. "
        "Every option can also be set with its MLSTEPS_* environment variable.")
    parser.add_argument("--version", action="version", version=f"mlsteps {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    add_setting_options(common, "data_dir", "dataset")
    steps = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in (("load-data", "write a new data snapshot"),
                          ("train", "train on the newest snapshot and publish a model")):
        step = steps.add_parser(name, parents=[common], help=summary + " (once, or on a schedule)",
                                description=summary.capitalize() + ". Runs once unless --every or --cron is given.")
        field = name.replace("-", "_")
        step.add_argument("--every", metavar="SECONDS",
                          help=f"run every SECONDS seconds ({env_name(field + '_every')}; 0 = once)")
        step.add_argument("--cron", metavar="EXPR", help=f"run on a crontab schedule in UTC, e.g. '*/5 * * * *' "
                          f"({env_name(field + '_cron')})")
    steps.add_parser("bootstrap", parents=[common], help="load-data then train, once (a fresh volume gets a model)")
    doctor = steps.add_parser("doctor", parents=[common], help="check what a level needs, with a fix for each failure")
    doctor.add_argument("--level", type=int, choices=(1, 2, 3, 4), default=1, help="the level to check (default 1)")
    serve = steps.add_parser("serve", parents=[common], help="serve predictions over HTTP (FastAPI)")
    add_setting_options(serve, "host", "port")
    return parser


def run_step(command: str, settings: Settings, run_first: bool = True) -> int:
    """Run one command with checked settings; a scheduled step blocks until stopped."""
    if command == "serve":  # serve only reads the volume: it may be mounted read-only
        from mlsteps.serve import run_server

        run_server(settings)
        return 0
    ensure_writable_dir(settings.data_dir)
    from mlsteps.load_data import load_data
    from mlsteps.schedule import run_guarded, run_on_schedule
    from mlsteps.train import train

    if command == "bootstrap":
        return 0 if run_guarded(lambda: load_data(settings), "load-data") and \
            run_guarded(lambda: train(settings), "train") else 1
    step = {"load-data": load_data, "train": train}[command]
    field = command.replace("-", "_")
    every, cron = getattr(settings, f"{field}_every"), getattr(settings, f"{field}_cron")
    if every or cron:
        run_on_schedule(lambda: step(settings), command, every, cron, run_first=run_first)
        return 0
    return 0 if run_guarded(lambda: step(settings), command) else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        if args.command == "doctor":
            from mlsteps.doctor import run_doctor
            return run_doctor(args.level, settings)
        setup_logging(settings.log_level, step=args.command)
        return run_step(args.command, settings)
    except (ConfigError, DataError) as error:
        print(f"mlsteps {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
