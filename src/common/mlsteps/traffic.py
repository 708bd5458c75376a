"""`mlsteps traffic`: a demo client that sends serve rows like the training data, or shifted away from it.

For docs/monitoring.md: normal traffic (with --feedback, the true answers too), then `--drift`, and the
monitor step reports the drift, asks for retraining, and /monitor shows it. Rows come from the newest
snapshot on the volume; --drift moves every number two standard deviations up and every text value to
its column's rarest category, while the feedback stays the rows' true answers, as in a world that moved.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import numpy as np
import pandas as pd

from mlsteps.config import Settings
from mlsteps.errors import EXIT_FAILED, EXIT_OK, RuntimeFailure, UserError
from mlsteps.volume.location import snapshots_area
from mlsteps.volume.snapshots import SnapshotRejected, list_snapshots, read_snapshot

log = logging.getLogger("mlsteps.traffic")
SHIFT_SD = 2.0


def shifted(X: pd.DataFrame) -> pd.DataFrame:
    """The rows moved away: numbers by SHIFT_SD standard deviations, text to its rarest value."""
    moved = X.copy()
    for name in X.columns:
        column = X[name]
        if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
            counts = column.value_counts()
            if len(counts):
                rarest = counts.index[-1]
                moved[name] = column.astype(object).where(column.isna(), rarest)
        else:
            moved[name] = column + SHIFT_SD * (column.std() or 1.0)
    return moved


def _json_value(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _post(url: str, body: dict, api_key: str | None) -> dict:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def send_traffic(settings: Settings, requests: int, drift: bool = False, feedback: bool = False) -> int:
    """Send `requests` one-row requests; 0 when all were answered, 1 when serve could not be reached."""
    if requests < 1:
        raise UserError("--requests must be 1 or more.")
    data = snapshots_area(settings)
    try:
        snapshots = list_snapshots(data)
        if not snapshots:
            raise UserError(f"there is no snapshot in {data} to draw rows from (run load-data).")
        table, meta = read_snapshot(data, snapshots[-1])
    except SnapshotRejected as reason:
        raise RuntimeFailure(f"the newest snapshot is refused: {reason}") from None
    X = shifted(table.X) if drift else table.X
    if feedback and table.y is None:
        raise UserError(f"{meta['file']} has no target column: there is no true answer to send as feedback.")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    base = f"http://{host}:{settings.port}"
    key = settings.api_key.get_secret_value() if settings.api_key else None
    picks = np.random.default_rng().integers(0, len(X), size=requests)
    rows = X.astype(object).to_numpy()
    answered = 0
    try:
        for i in picks:
            answer = _post(f"{base}/predict", {"instances": [[_json_value(v) for v in rows[i]]]}, key)
            answered += 1
            if feedback:
                _post(
                    f"{base}/feedback", {"request_id": answer["request_id"], "actual": [_json_value(table.y[i])]}, key
                )
    except (urllib.error.URLError, OSError) as error:
        log.error("traffic: %d of %d requests answered, then %s failed (%s)", answered, requests, base, error)
        print(f"mlsteps traffic: {answered} of {requests} requests answered; {base} failed: {error}")
        return EXIT_FAILED
    what = "shifted rows (--drift)" if drift else "rows like the training data"
    print(
        f"sent {requests} requests of {what} from {meta['file']} to {base}/predict"
        + (", with feedback" if feedback else "")
    )
    return EXIT_OK
