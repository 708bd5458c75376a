"""`mlsteps load-data | train | bootstrap | serve | doctor`: the one entry point every level calls."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

from mlsteps import __version__
from mlsteps.config import ConfigError, Settings, check_cron, ensure_writable_dir, load_settings
from mlsteps.datasets import DataError
from mlsteps.logs import setup_logging

PERIODIC = ("load-data", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsteps", description="Load data, train and serve a scikit-learn model. "
        "Every option can also be set with its MLSTEPS_* environment variable.")
    parser.add_argument("--version", action="version", version=f"mlsteps {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="shared volume for snapshots and models (MLSTEPS_DATA_DIR)")
    common.add_argument("--dataset", help="iris, wine, breast_cancer, digits, diabetes or csv:<path> (MLSTEPS_DATASET)")
    steps = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in (("load-data", "write a new data snapshot"),
                          ("train", "train on the newest snapshot and publish a model")):
        step = steps.add_parser(name, parents=[common], help=summary + " (once, or on a schedule)",
                                description=summary.capitalize() + ". Runs once unless --every or --cron is given.")
        variable = name.replace("-", "_")
        step.add_argument("--every", type=float, metavar="SECONDS",
                          help=f"run every SECONDS seconds (MLSTEPS_{variable.upper()}_EVERY; 0 = once)")
        step.add_argument("--cron", metavar="EXPR", help=f"run on a crontab schedule in UTC, e.g. '*/5 * * * *' "
                          f"(MLSTEPS_{variable.upper()}_CRON)")
    steps.add_parser("bootstrap", parents=[common], help="load-data then train, once (a fresh volume gets a model)")
    doctor = steps.add_parser("doctor", parents=[common], help="check what a level needs, with a fix for each failure")
    doctor.add_argument("--level", type=int, choices=(1, 2, 3, 4), default=1, help="the level to check (default 1)")
    serve = steps.add_parser("serve", parents=[common], help="serve predictions over HTTP (FastAPI)")
    serve.add_argument("--host", help="address to listen on (MLSTEPS_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (MLSTEPS_PORT)")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": args.data_dir, "dataset": args.dataset,
                 "host": getattr(args, "host", None), "port": getattr(args, "port", None)}
    if args.command in PERIODIC:
        variable = args.command.replace("-", "_")
        if args.every is not None and args.every < 0:
            raise ConfigError(f"--every {args.every:g} must be 0 or more (0 means: run once).")
        if args.cron:
            check_cron(args.cron, "--cron")
        overrides[f"{variable}_every"] = args.every
        overrides[f"{variable}_cron"] = args.cron
    if overrides["data_dir"] is not None:
        overrides["data_dir"] = Path(overrides["data_dir"])
    return load_settings(**overrides)


def run_step(command: str, settings: Settings, run_first: bool = True) -> int:
    """Run one command with checked settings; a scheduled step blocks until stopped."""
    if command == "serve":  # serve only reads the volume: it may be mounted read-only
        import uvicorn
        from threadpoolctl import threadpool_limits

        from mlsteps.serve import create_app

        # One request at a time runs on the event loop, and its matrices are small: BLAS worker
        # threads would only spin and take CPU from the server itself.
        threadpool_limits(limits=1)
        gc.freeze()  # the ~10^5 objects imported so far live as long as the process: GC skips them
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                    access_log=settings.access_log)
        return 0
    ensure_writable_dir(settings.data_dir)
    from mlsteps.load_data import load_data
    from mlsteps.schedule import run_guarded, run_on_schedule
    from mlsteps.train import train

    if command == "bootstrap":
        return 0 if run_guarded(lambda: load_data(settings), "load-data") and \
            run_guarded(lambda: train(settings), "train") else 1
    step = {"load-data": load_data, "train": train}[command]
    variable = command.replace("-", "_")
    every, cron = getattr(settings, f"{variable}_every"), getattr(settings, f"{variable}_cron")
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


if __name__ == "__main__":
    sys.exit(main())
