"""One typed settings object, read from MLSTEPS_* environment variables (pydantic-settings).

Every level (processes, Compose, kubectl, Helm) sets these same names, so the steps never need to
know where they run. pydantic parses and checks each value against its type and bounds;
`load_settings` turns its report into a ConfigError naming the field and what is allowed; the entry
point says it as one sentence that names the variable or the command-line flag the value came from
(`errors.explain`), and exits with code 2.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlsteps.errors import ENV_PREFIX, UserError, env_name

# What comes in the box, defined once: the settings checks, the CLI's help, load-data, train and the
# docs (tests/test_config.py reads them) take the names from here. Dataset name -> its task.
BUNDLED_DATASETS = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
    "blobs": "clustering",  # generated: drifting groups of points, no labels
}
# Pipeline name -> task -> (scikit-learn class, its arguments): the model train fits after a scaler.
# Classes by their names: train imports one only when it is chosen (the ensemble, neighbors and cluster
# modules cost start-up time to all who do not), and settings never import scikit-learn.
BUILTIN_PIPELINES = {
    "linear": {
        "classification": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
        "regression": ("sklearn.linear_model.Ridge", {"alpha": 1.0}),
    },
    "forest": {
        "classification": ("sklearn.ensemble.RandomForestClassifier", {"n_estimators": 100, "random_state": 0}),
        "regression": ("sklearn.ensemble.RandomForestRegressor", {"n_estimators": 100, "random_state": 0}),
    },
    "boosting": {
        "classification": (
            "sklearn.ensemble.HistGradientBoostingClassifier",
            {"random_state": 0, "categorical_features": "from_dtype"},
        ),
        "regression": (
            "sklearn.ensemble.HistGradientBoostingRegressor",
            {"random_state": 0, "categorical_features": "from_dtype"},
        ),
    },
    "knn": {
        "classification": ("sklearn.neighbors.KNeighborsClassifier", {}),
        "regression": ("sklearn.neighbors.KNeighborsRegressor", {}),
    },
    "kmeans": {"clustering": ("sklearn.cluster.KMeans", {"n_clusters": 3, "n_init": 10, "random_state": 0})},
}
DEFAULT_PIPELINES = {  # the pipeline setting left empty
    "classification": "linear",
    "regression": "linear",
    "clustering": "kmeans",
}
LEARNER_CODE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")  # module.path:callable
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MAX_SAMPLES_PER_SNAPSHOT = 1_000_000  # a simulated snapshot is held in memory twice: keep it far below RAM
MIN_INTERVAL_SECONDS = 0.1  # a shorter schedule or reload period only spins the CPU
MIN_SIGNING_KEY_LENGTH = 16
MAX_CLUSTERS = 50
BYTES_PER_ROW = 1024  # room for ~50 numbers written out in full: what the default body limit allows a row
EXAMPLE_GRID = '{"model__C": [0.1, 1, 10]}'
SECRET_FIELDS = {"signing_key", "api_key"}  # never repeated in an error message or a log line


class ConfigError(UserError):
    """A setting has a value the steps cannot use; the message says which and why."""


def check_dataset(name: str) -> str:
    if name == "csv:":
        raise ValueError("needs a file path after 'csv:', e.g. csv:data/houses.csv")
    if name.startswith("python:") and not LEARNER_CODE.match(name.removeprefix("python:")):
        raise ValueError("needs module:function after 'python:', e.g. python:my_ml.example:load_table")
    if name not in BUNDLED_DATASETS and not name.startswith(("csv:", "python:")):
        raise ValueError(f"is not a known dataset; use one of {dataset_choices()}")
    return name


def dataset_choices() -> str:
    """Every value the dataset setting takes, for its error and the CLI's help."""
    return f"{', '.join(BUNDLED_DATASETS)}, csv:<path to your file> or python:<module>:<function>"


def check_pipeline(name: str) -> str:
    if name and name not in BUILTIN_PIPELINES and not LEARNER_CODE.match(name):
        raise ValueError(
            f"is not a pipeline; use one of {', '.join(BUILTIN_PIPELINES)}, "
            "or module:function, e.g. my_ml.example:make_pipeline"
        )
    return name


def check_param_grid(text: str) -> str:
    """Empty (no tuning) or a JSON object of parameter name -> non-empty list of values to try."""
    if not text:
        return text
    try:
        grid = json.loads(text)
    except ValueError:
        raise ValueError(f"is not JSON; write e.g. '{EXAMPLE_GRID}'") from None
    if (
        not isinstance(grid, dict)
        or not grid
        or not all(isinstance(values, list) and values for values in grid.values())
    ):
        raise ValueError(f"must be a JSON object of parameter name -> list of values, e.g. '{EXAMPLE_GRID}'")
    return text


def check_k_range(text: str) -> str:
    match = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if not match or not 2 <= int(match.group(1)) <= int(match.group(2)) <= MAX_CLUSTERS:
        raise ValueError(f"must be LOW-HIGH with 2 <= LOW <= HIGH <= {MAX_CLUSTERS}, e.g. 2-8")
    return text.strip()


def check_cron(expression: str) -> str:
    """An empty string (no schedule) or five crontab fields that APScheduler accepts."""
    from apscheduler.triggers.cron import CronTrigger

    if expression:
        try:
            CronTrigger.from_crontab(expression)
        except ValueError as error:
            raise ValueError(f"is not a valid cron schedule ({error}); use five fields, e.g. '*/5 * * * *'") from None
    return expression


def check_log_level(level: str) -> str:
    if level.upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level.upper()


def check_interval(seconds: float) -> float:
    if 0 < seconds < MIN_INTERVAL_SECONDS:
        raise ValueError(f"must be 0 (run once) or at least {MIN_INTERVAL_SECONDS:g} seconds")
    return seconds


def check_signing_key(key: SecretStr | None) -> SecretStr | None:
    if key is not None and len(key.get_secret_value()) < MIN_SIGNING_KEY_LENGTH:
        raise ValueError(
            f"must be at least {MIN_SIGNING_KEY_LENGTH} characters long "
            "(make one with: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def check_store(location: str) -> str:
    """Empty (the MLSTEPS_DATA_DIR folder) or s3://bucket/prefix, with a bucket name S3 accepts."""
    if location and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?", location):
        raise ValueError(
            "is not s3://bucket/prefix (a bucket name: 3-63 lowercase letters, digits, dots and dashes); "
            "leave it empty for the local folder MLSTEPS_DATA_DIR"
        )
    return location.rstrip("/")


def check_model_name(name: str) -> str:
    if not MODEL_NAME.match(name):
        raise ValueError("must be letters, digits, '.', '_' or '-', from a letter or digit (it is part of a URL)")
    return name


Count = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(check_interval)]  # 0: run once
Cron = Annotated[str, AfterValidator(check_cron)]


class Settings(BaseSettings):
    """What the steps need to know; each field is read from MLSTEPS_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid")

    data_dir: Path = Path("mlsteps-data")
    dataset: Annotated[str, AfterValidator(check_dataset)] = "iris"
    target_column: str = "target"
    # What the model learns: auto takes it from your estimator (a classifier, regressor or clusterer),
    # then guesses from the target; clustering needs no target column.
    task: Literal["auto", "classification", "regression", "clustering"] = "auto"
    # The estimator train fits; empty: the task's default (linear, or kmeans for clustering).
    pipeline: Annotated[str, AfterValidator(check_pipeline)] = ""
    param_grid: Annotated[str, AfterValidator(check_param_grid)] = ""  # JSON: tune before the final fit
    k_range: Annotated[str, AfterValidator(check_k_range)] = "2-8"  # clustering: the k that K-means tries
    samples_per_snapshot: Annotated[int, Field(ge=1, le=MAX_SAMPLES_PER_SNAPSHOT)] = 300
    seed: Annotated[int, Field(ge=0)] = 42
    keep_snapshots: Count = 5
    keep_models: Count = 5
    promotion_tolerance: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.05
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    reload_seconds: Annotated[float, Field(ge=MIN_INTERVAL_SECONDS, allow_inf_nan=False)] = 1.0
    max_batch: Count = 10_000
    # The largest /predict body read; unset: BYTES_PER_ROW for each row of max_batch.
    max_body_bytes: Annotated[int | None, Field(ge=1024)] = None
    access_log: bool = True
    load_data_every: Seconds = 0.0
    train_every: Seconds = 0.0
    load_data_cron: Cron = ""
    train_cron: Cron = ""
    log_level: Annotated[str, AfterValidator(check_log_level)] = "INFO"
    # HMAC key: train signs each model, serve refuses unsigned or badly signed ones. None: unsigned.
    signing_key: Annotated[SecretStr | None, AfterValidator(check_signing_key)] = None
    # When set, serve's /predict, /model and /metrics need `Authorization: Bearer <key>` (at least 16
    # characters, as the signing key). None: open.
    api_key: Annotated[SecretStr | None, AfterValidator(check_signing_key)] = None
    # serve's speed tricks (serve/speed_tricks/): false gives the plain FastAPI path, with the same answers.
    speed_tricks: bool = True
    # The prediction log (docs/monitoring.md): serve writes each /predict's rows and answers to the volume.
    prediction_log: bool = True
    log_queue_size: Count = 10_000  # rows waiting for the log's writer; beyond it answers are dropped (counted)
    log_keep_hours: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 168.0  # older log files are deleted
    log_keep_megabytes: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 500.0  # then the oldest beyond this
    # The monitor step: the newest logged rows against the live model's training data, and feedback.
    monitor_every: Seconds = 0.0
    monitor_cron: Cron = ""
    monitor_window_rows: Count = 5_000  # the newest logged rows compared with the training snapshot
    monitor_min_rows: Count = 200  # fewer logged rows (or rows with feedback) than this: no verdict yet
    drift_psi: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.2  # a feature drifts at this PSI or more...
    drift_p_value: Annotated[float, Field(gt=0, lt=1)] = 0.01  # ...when its two-sample test is also below this
    max_quality_drop: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.1  # live vs holdout, relative
    # Where the volume lives: empty, the data_dir folder; or s3://bucket/prefix on any S3-compatible server,
    # its endpoint and credentials read as the AWS SDKs read them (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
    store: Annotated[str, AfterValidator(check_store)] = ""
    # The connect and the read timeout of every call to an s3:// store (one retry where it is safe).
    store_timeout_seconds: Annotated[float, Field(gt=0, le=300, allow_inf_nan=False)] = 10.0
    # The model's name in the KServe V1 and Open Inference Protocol V2 paths (/v2/models/<name>/infer).
    model_name: Annotated[str, AfterValidator(check_model_name)] = "mlsteps"
    # What answers in serve: scikit-learn (the pickle), or ONNX Runtime (the .onnx file train exports; nothing
    # is unpickled, and a model without one is refused).
    runtime: Literal["sklearn", "onnx"] = "sklearn"

    @property
    def signing_secret(self) -> str | None:
        """The signing key's text, for the two places that use it (sign, verify); None when unset."""
        return self.signing_key.get_secret_value() if self.signing_key else None

    @property
    def body_limit(self) -> int:
        """The largest /predict body serve reads, in bytes."""
        return self.max_body_bytes or self.max_batch * BYTES_PER_ROW

    @property
    def tuning_grid(self) -> dict[str, list]:
        """MLSTEPS_PARAM_GRID as a dict (empty: no tuning)."""
        return json.loads(self.param_grid) if self.param_grid else {}

    @property
    def k_candidates(self) -> list[int]:
        low, high = map(int, self.k_range.split("-"))
        return list(range(low, high + 1))

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


ENV_DEFAULTS = {env_name(name): field.default for name, field in Settings.model_fields.items()}
"""Every variable the steps read, with its default: the list the levels must agree on."""

# pydantic's error types, as the end of a sentence that starts with the variable and its value.
PROBLEMS = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "greater_than_equal": "must be {ge} or more",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be {le} or less",
    "literal_error": "must be one of {expected}",
}


def _error(error: dict) -> ConfigError:
    """One error of pydantic's report, as the end of the sentence `MLSTEPS_X='value' must be ...`."""
    field = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "value_error":  # our own validators: their message is the sentence's end
        problem = str(error["ctx"]["error"])
    elif error["type"] == "extra_forbidden":
        return ConfigError(f"{field!r} is not a setting.")
    else:
        bounds = {
            key: f"{value:g}" if isinstance(value, float) else value for key, value in error.get("ctx", {}).items()
        }
        problem = PROBLEMS.get(error["type"], error["msg"]).format(**bounds)
    value = None if field in SECRET_FIELDS else error["input"]
    return ConfigError(f"{problem}.", field=field, value=value)


def load_settings(settings_class: type[Settings] = Settings, **overrides) -> Settings:
    """Settings from the environment, and from `overrides` (e.g. CLI flags) where not None, checked."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return settings_class(**given)
    except ValidationError as report:
        raise _error(report.errors()[0]) from None


def ensure_writable_dir(path: Path, field: str = "data_dir") -> Path:
    """Create `path` if needed and prove it is writable, or raise ConfigError naming the setting."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except PermissionError as error:  # e.g. an NFS share the kubelet could not give to fsGroup
        groups = ", ".join(map(str, sorted({os.getgid(), *os.getgroups()})))
        raise ConfigError(
            f"is not a writable directory ({error.strerror}): user {os.getuid()} (groups {groups}) may not "
            "write it, so give the volume to that user or group (on Kubernetes, fsGroup does not re-own NFS shares).",
            field=field,
            value=path,
        ) from None
    except OSError as error:
        raise ConfigError(f"is not a writable directory ({error.strerror}).", field=field, value=path) from None
    return path
