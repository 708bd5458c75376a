"""Import the learner's own code named in a setting (`module:function`), or say in one sentence why not.

Train imports a pipeline factory (the `pipeline` setting) and load-data a loader (`dataset`, python:...);
the package never imports the learner's code otherwise, so the steps stay independent of it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mlsteps.config import ConfigError


def load_callable(spec: str, field: str, prefix: str = "") -> Callable:
    """The function `spec` ("package.module:function") names; ConfigError naming the setting `field` if it
    cannot be had.

    `prefix` is what stood before `spec` in the setting (e.g. "python:"), so the message shows its whole value.
    """
    module_name, _, name = spec.partition(":")
    value = prefix + spec
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as missing:
        raise ConfigError(
            f": there is no module {missing.name!r} (is it in src/my_ml/, and "
            "was the project installed again after you added it?).",
            field=field,
            value=value,
        ) from None
    except Exception as error:  # the learner's module itself failed: say how, in one line
        raise ConfigError(
            f": importing {module_name} failed ({type(error).__name__}: {error}).", field=field, value=value
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f": {module_name} has no function {name!r}.", field=field, value=value)
    return function
