"""mlsteps: load data, train and serve a scikit-learn model, the same code at every level."""

from importlib.metadata import PackageNotFoundError, version

from mlsteps.config import ConfigError, Settings, get_settings, load_settings

try:
    __version__ = version("mlsteps")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["ConfigError", "Settings", "__version__", "get_settings", "load_settings"]
