"""The two kinds of failure every entry point tells apart, the exit codes they map to, and how a
failure names the setting at fault.

0: done. 1: the step failed at run time (disk full, a volume that went away): retrying may help.
2: bad settings or input (a UserError): the user must change something; the message is one
sentence that says what, and no traceback is shown.

A setting is named in one place only, `explain`: the code that finds a bad value names the settings
field ("dataset"), and the sentence says `--dataset ...` to whoever typed the flag and
`MLSTEPS_DATASET=...` to whoever set the variable.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
ENV_PREFIX = "MLSTEPS_"


class UserError(ValueError):
    """A setting or an input the steps cannot use; the message is one sentence that says what to fix.

    When a setting is at fault, `field` names it (a settings field, e.g. "pipeline"), `value` is what
    it held (None: not repeated, e.g. a secret or a long JSON), and the message is the rest of the
    sentence, after the setting: "has no clustering model", or ": there is no module 'x'".
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None):
        super().__init__(message)
        self.message, self.field, self.value = message, field, value

    def __str__(self) -> str:
        return explain(self)


def env_name(field: str) -> str:
    """The environment variable that sets a settings field: dataset -> MLSTEPS_DATASET."""
    return ENV_PREFIX + field.upper()


def setting_name(field: str, value: object = None, flags: Mapping[str, str] | None = None) -> str:
    """A setting as the user gave it: `--flag value` when `flags` (field -> flag) says it came from the
    command line, else `MLSTEPS_X='value'`; without the value when it is None."""
    flag = (flags or {}).get(field)
    if flag:
        return flag if value is None else f"{flag} {shlex.quote(str(value))}"
    return env_name(field) if value is None else f"{env_name(field)}={str(value)!r}"


def explain(error: BaseException, flags: Mapping[str, str] | None = None) -> str:
    """The sentence the user reads for `error`, its setting (if any) named as they gave it."""
    if not isinstance(error, UserError):
        return str(error)
    if error.field is None:
        return error.message
    joint = "" if error.message.startswith((":", ";", ",")) else " "
    return f"{setting_name(error.field, error.value, flags)}{joint}{error.message}"


class RuntimeFailure(Exception):
    """A step failed at run time for a reason one sentence says (exit 1, no traceback).

    E.g. a model serve would refuse: train does not publish it.
    """


def one_sentence(error: OSError) -> str:
    """An operating-system error (disk full, a folder where a file should be) as one readable sentence."""
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"
