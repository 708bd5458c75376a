"""One request header read from the ASGI scope's raw list, for the headers serve reads on every request.

ASGI servers give header names in lower case; Starlette's `request.headers` would build a mapping first.
"""

from __future__ import annotations


def first_header(scope: dict, name: bytes) -> str | None:
    """The first value of header `name` (lower case), as Starlette decodes it (latin-1); None when absent."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
