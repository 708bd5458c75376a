"""MLSTEPS_DATASET=csv:https://... or csv:s3://bucket/key: a learner's CSV file read where it lives.

Levels 2-4 then need no copy of the file in a volume. The file is downloaded whole (at most
MAX_CSV_BYTES, each network call bounded by MLSTEPS_STORE_TIMEOUT_SECONDS) into a temporary folder,
and read by the same code as a local file (csv_files.py): the same checks, and the same sentences,
which name the URL rather than the temporary copy. s3:// is read with the AWS settings the store uses
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...). A wrong URL, key or bucket is the learner's to fix
(exit 2); a network that fails or times out is a run-time failure (exit 1).
"""

from __future__ import annotations

import dataclasses
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from mlsteps.errors import RuntimeFailure, UserError
from mlsteps.load_data.csv_files import read_csv_table
from mlsteps.load_data.datasets import DataError
from mlsteps.table import Table

MAX_CSV_BYTES = 256 * 1024 * 1024  # read into memory, then parsed: kept well below a pod's memory limit
SCHEMES = ("https", "http", "s3")


def is_remote_csv(location: str) -> bool:
    return urlparse(location).scheme in SCHEMES


def _too_large(url: str) -> UserError:
    return UserError(
        f"is larger than {MAX_CSV_BYTES} bytes, the most load-data downloads.", field="dataset", value=f"csv:{url}"
    )


def _from_http(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 (http and https only: SCHEMES)
            if int(answer.headers.get("Content-Length") or 0) > MAX_CSV_BYTES:
                raise _too_large(url)
            blob = answer.read(MAX_CSV_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise UserError(
            f"answered HTTP {error.code} ({error.reason}); check the URL.", field="dataset", value=f"csv:{url}"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise RuntimeFailure(f"cannot download csv:{url} ({getattr(error, 'reason', None) or error})") from None
    return blob


def _from_s3(url: str, timeout: float) -> bytes:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    parsed = urlparse(url)
    config = Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "total_max_attempts": 2}
    )
    try:
        answer = (
            boto3.session.Session()
            .client("s3", config=config)
            .get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
        )
        if answer["ContentLength"] > MAX_CSV_BYTES:
            raise _too_large(url)
        return answer["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise UserError(
            f"cannot be read ({code}): check the bucket, the key and the AWS_* credentials.",
            field="dataset",
            value=f"csv:{url}",
        ) from None
    except BotoCoreError as error:
        raise RuntimeFailure(f"cannot download csv:{url} within {timeout:g}s ({type(error).__name__})") from None


def read_remote_csv_table(url: str, target_column: str, task: str, timeout: float) -> Table:
    """Download the CSV at `url`, then read it as csv_files reads a local one; the sentences name `url`."""
    blob = (_from_s3 if url.startswith("s3://") else _from_http)(url, timeout)
    if len(blob) > MAX_CSV_BYTES:
        raise _too_large(url)
    with tempfile.TemporaryDirectory(prefix="mlsteps-csv-") as folder:
        copy = Path(folder) / (Path(urlparse(url).path).name or "data.csv")
        copy.write_bytes(blob)
        try:
            table = read_csv_table(copy, target_column, task)
        except DataError as error:  # the same sentence, naming the URL the learner gave
            error.message = error.message.replace(str(copy), url)
            if error.value is not None:
                error.value = str(error.value).replace(str(copy), url)
            raise
    return dataclasses.replace(table, source=f"csv:{url}")
