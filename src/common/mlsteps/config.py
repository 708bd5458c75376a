"""One typed settings object, read from MLSTEPS_* environment variables.

Every level (processes, Compose, kubectl, Helm) sets these same names, so the
steps never need to know where they run. A bad value raises ConfigError with
one sentence that names the variable and what is allowed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

BUNDLED_DATASETS = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """A setting has a value the steps cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """What the steps need to know; each field is read from MLSTEPS_<FIELD NAME>."""

    data_dir: Path = Path("mlsteps-data")
    dataset: str = "iris"
    target_column: str = "target"
    samples_per_snapshot: int = 300
    seed: int = 42
    keep_snapshots: int = 5
    keep_models: int = 5
    promotion_tolerance: float = 0.05
    host: str = "127.0.0.1"
    port: int = 8000
    reload_seconds: float = 1.0
    max_batch: int = 10_000
    access_log: bool = True
    load_data_every: float = 0.0
    train_every: float = 0.0
    load_data_cron: str = ""
    train_cron: str = ""
    log_level: str = "INFO"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "data"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def csv_path(self) -> Path | None:
        """The learner's CSV file when MLSTEPS_DATASET is csv:<path>, else None."""
        if self.dataset.startswith("csv:"):
            return Path(self.dataset[4:]).expanduser()
        return None


def env_name(field_name: str) -> str:
    return "MLSTEPS_" + field_name.upper()


ENV_DEFAULTS = {env_name(f.name): f.default for f in fields(Settings)}
"""Every variable the steps read, with its default: the list the levels must agree on."""


def _parse(name: str, raw: str, kind: type):
    text = raw.strip()
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        expected = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "a value")
        raise ConfigError(f"{name}={raw!r} is not {expected}.") from None


def _check(settings: Settings) -> Settings:
    """Reject values the steps cannot use, naming the variable and what is allowed."""
    dataset = settings.dataset
    if dataset not in BUNDLED_DATASETS and not dataset.startswith("csv:"):
        choices = ", ".join(BUNDLED_DATASETS)
        raise ConfigError(f"MLSTEPS_DATASET={dataset!r} is not a known dataset; use one of {choices}, or csv:<path to your file>.")
    if dataset == "csv:":
        raise ConfigError("MLSTEPS_DATASET='csv:' needs a file path after 'csv:', e.g. csv:data/houses.csv.")
    for name in ("samples_per_snapshot", "keep_snapshots", "keep_models", "max_batch"):
        if getattr(settings, name) < 1:
            raise ConfigError(f"{env_name(name)}={getattr(settings, name)} must be 1 or more.")
    for name in ("load_data_every", "train_every", "promotion_tolerance"):
        if getattr(settings, name) < 0:
            raise ConfigError(f"{env_name(name)}={getattr(settings, name)} must be 0 or more (0 means: run once).")
    if not settings.reload_seconds > 0:
        raise ConfigError(f"MLSTEPS_RELOAD_SECONDS={settings.reload_seconds} must be more than 0.")
    if not 1 <= settings.port <= 65535:
        raise ConfigError(f"MLSTEPS_PORT={settings.port} must be a port number from 1 to 65535.")
    if settings.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(f"MLSTEPS_LOG_LEVEL={settings.log_level!r} must be one of {', '.join(LOG_LEVELS)}.")
    for name in ("load_data_cron", "train_cron"):
        expression = getattr(settings, name)
        if expression:
            check_cron(expression, env_name(name))
    return replace(settings, log_level=settings.log_level.upper())


def check_cron(expression: str, source: str) -> None:
    """Fail with a clear sentence when a crontab expression does not parse."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression)
    except ValueError as error:
        raise ConfigError(f"{source}={expression!r} is not a valid cron schedule ({error}); "
                          "use five fields, e.g. '*/5 * * * *'.") from None


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    """Build Settings from the environment (and explicit overrides, e.g. CLI flags), checked."""
    environ = os.environ if environ is None else environ
    values = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        kind = type(f.default)
        values[f.name] = Path(raw) if kind.__name__.endswith("Path") else _parse(env_name(f.name), raw, kind)
    values.update({key: value for key, value in overrides.items() if value is not None})
    return _check(Settings(**values))


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call get_settings.cache_clear() after changing the env."""
    return load_settings()


def ensure_writable_dir(path: Path, variable: str = "MLSTEPS_DATA_DIR") -> Path:
    """Create `path` if needed and prove it is writable, or raise ConfigError naming the variable."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"{variable}={str(path)!r} is not a writable directory ({error.strerror}).") from None
    return path
