"""mlsteps: load data, train and serve a scikit-learn model, the same code at every level.

The folders are the architecture: three steps that share nothing but the volume.

- `load_data/`: write a new snapshot of data (`step`, then `sources`, `datasets`, `csv_files`).
- `train/`: fit, evaluate and publish a model version (`step`, then `pipelines`, `tuning`).
- `serve/`: the FastAPI app answering from the newest promoted model (`app`, `routes`,
  `request_body`, `scoring`, `live_model`; the same answers faster in `speed_tricks/`).
- `monitor/`: compare the logged requests with the training data, judge the feedback, write a report
  and ask for retraining (`step`, then `statistics`, `recent`, `quality`).
- `volume/`: all that the steps share, knowing no step: `snapshots`, `registry` (model versions and
  the `latest.json` pointer), `atomic` (whole files only), `prediction_log` (serve's log and the
  feedback), `reports` (the monitor's reports and its retrain request).

At the top: `config` (the MLSTEPS_* settings), `cli` (`mlsteps load-data | train | monitor | bootstrap |
serve | doctor | show | traffic`), `schedule` (a step once or periodically), `table` (what load-data hands
to train through the volume), `learner_code` (your loader and pipeline), `errors`, `logs`, `doctor`,
`show`, `traffic` (a demo client for docs/monitoring.md).

The steps never import each other (tests/test_architecture.py): they meet only in the volume.
"""

from importlib.metadata import PackageNotFoundError, version

from mlsteps.config import ConfigError, Settings, load_settings

try:
    __version__ = version("mlsteps")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["ConfigError", "Settings", "__version__", "load_settings"]
