"""mlsteps: load data, train and serve a scikit-learn model, the same code at every level.

The modules, by the step they belong to (read them in this order):

- settings and entry point: `config` (the MLSTEPS_* variables), `cli` (`mlsteps load-data | train |
  bootstrap | serve | doctor`), `schedule` (run a step once or periodically), `logs`, `doctor`.
- load-data: `datasets` (where rows come from) -> `load_data` (the step) -> `snapshots` (numbered
  files on the volume).
- train: `train` (fit, evaluate, decide on promotion) -> `registry` (versioned model folders and
  the `latest.json` pointer).
- serve: `serve` (the FastAPI app) with `routes` (the endpoints), `live_model` (which model answers,
  swapped when the pointer moves), `predict` (request to matrix to answer), `fast_path` (the same
  answers, computed faster), `shortcut` (`/predict` without FastAPI's per-request routing),
  `responses` (what each route answers, and the orjson encoder), `metrics`.
- the volume, which is all the steps share: `snapshots`, `registry` and `atomic` (whole files only).

The steps never import each other: they meet only in the folder.
"""

from importlib.metadata import PackageNotFoundError, version

from mlsteps.config import ConfigError, Settings, load_settings

try:
    __version__ = version("mlsteps")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["ConfigError", "Settings", "__version__", "load_settings"]
