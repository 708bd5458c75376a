"""The two kinds of failure every entry point tells apart, and the exit codes they map to.

0: done. 1: the step failed at run time (disk full, a volume that went away): retrying may help.
2: bad settings or input (a UserError): the user must change something; the message is one
sentence that says what, and no traceback is shown.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class UserError(ValueError):
    """A setting or an input the steps cannot use; the message is one sentence that says what to fix."""


class RuntimeFailure(Exception):
    """A step failed at run time for a reason one sentence says (exit 1, no traceback).

    E.g. a model serve would refuse: train does not publish it.
    """


def one_sentence(error: OSError) -> str:
    """An operating-system error (disk full, a folder where a file should be) as one readable sentence."""
    where = f" ({error.filename})" if error.filename else ""
    return f"{error.strerror or error}{where}"
