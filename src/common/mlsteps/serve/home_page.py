"""The page at /: which model answers, and a request to paste into a terminal.

The page is `templates/home.html`, filled by the standard library's `string.Template`; every value from
the model's metadata, the volume or the request is HTML-escaped before it goes in. Its paragraphs are
chosen here, in plain functions the tests call directly.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib.resources import files
from string import Template

from mlsteps.serve.live_model import LiveModel


@cache
def template() -> Template:
    return Template(files("mlsteps.serve").joinpath("templates/home.html").read_text(encoding="utf-8"))


def model_status(live: LiveModel, api_key: bool) -> str:
    """What is served, and what was refused; with an API key, the model's details are left to /model."""
    current = live.current
    refused = f"<p><b>Refused model</b>: {escape(live.refused)}</p>" if live.refused else ""
    if current is None:
        waiting = "a model this server can load" if live.refused else "one within seconds"
        return f"{refused}<p>No model yet: the train step publishes {waiting}. This page updates on reload.</p>"
    if api_key:
        return f"<p>Serving model <b>v{current.version}</b>; its details at /model, with the API key.</p>{refused}"
    meta = current.metadata
    metric = meta["primary_metric"]
    clusters = f", k={meta['metrics']['k']} clusters" if "k" in meta["metrics"] else ""
    return (
        f"<p>Serving model <b>v{meta['version']}</b> ({escape(meta['task'])}, {escape(metric)} "
        f"{meta['metrics'][metric]:.3f}{clusters}), trained {escape(str(meta.get('created_at')))} on "
        f"{escape(str(meta.get('snapshot')))}.</p>{refused}"
        f"<p>Features: {escape(', '.join(meta['feature_names']))}</p>"
    )


def curl_example(live: LiveModel, base_url: str, api_key: bool) -> str:
    """A request the reader can paste: one row of 1.0s (a text column's first category), to the URL they are
    reading (with the key's header)."""
    if live.current is None:
        return ""
    row = ", ".join(
        json.dumps((f.get("categories") or ["?"])[0]) if f["type"] == "text" else "1.0" for f in live.current.features
    )
    header = ' -H "Authorization: Bearer $MLSTEPS_API_KEY"' if api_key else ""
    return escape(
        f"curl -s -X POST {base_url}/predict{header} -H 'Content-Type: application/json' "
        f"-d '{{\"instances\": [[{row}]]}}'",
        quote=False,
    ).join(("<pre>", "</pre>"))


def render(live: LiveModel, base_url: str, api_key: bool = False) -> str:
    return template().substitute(model=model_status(live, api_key), try_it=curl_example(live, base_url, api_key))
