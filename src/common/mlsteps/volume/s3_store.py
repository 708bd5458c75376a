"""The volume in an S3 bucket (MLSTEPS_STORE=s3://bucket/prefix) on any S3-compatible server: SeaweedFS, MinIO, AWS.

boto3, the AWS SDK, reads the endpoint and credentials as every AWS SDK does (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, or a profile, or a pod's web identity). Chosen
over obstore after measuring both on SeaweedFS 4.48: both send the conditional writes this contract
needs; obstore starts in ~27 ms and 21 MB, boto3 in ~250 ms and 51 MB, but boto3 reads the AWS
settings exactly as the SDKs do, sets connect and read timeouts per client, and was already locked.
It is imported here only, so a process without an s3:// store never pays for it.

Every call has a connect and a read timeout (MLSTEPS_STORE_TIMEOUT_SECONDS). botocore retries a call
that failed on the network or with a 5xx, which is safe for each call here: a GET, a DELETE and a whole
PUT are idempotent, and a conditional PUT that is repeated after it succeeded is refused (412), which
the registry reads as "somebody moved first" and then finds its own write when it looks again.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import AbstractContextManager, nullcontext

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mlsteps.errors import UserError
from mlsteps.volume.store import S3_SCHEME, UNCHANGED, StoreUnavailable, Versioned

logging.getLogger("botocore").setLevel(logging.WARNING)  # not "Found credentials in ..." at every start
ATTEMPTS = 2  # one retry: a blip is ridden out, a dead store fails the step within 2 x the timeout
MISSING = {"NoSuchKey", "404", "NotFound"}
REFUSED = {"PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
SETTINGS_AT_FAULT = {  # the server's answer -> what the learner changes
    "404": "names a bucket that does not exist (create it, or fix the name)",
    "NoSuchBucket": "names a bucket that does not exist (create it, or fix the name)",
    "InvalidAccessKeyId": "is refused: AWS_ACCESS_KEY_ID is not a key this store knows",
    "SignatureDoesNotMatch": "is refused: AWS_SECRET_ACCESS_KEY does not match AWS_ACCESS_KEY_ID",
    "AccessDenied": "is refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may use this bucket",
    "403": "is refused: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may use this bucket",
}


def split_location(location: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix")."""
    bucket, _, prefix = location.removeprefix(S3_SCHEME).partition("/")
    return bucket, prefix.strip("/")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Store:
    """Keys under `s3://bucket/prefix/`; each object put whole, conditional writes for claims and the pointer."""

    def __init__(self, location: str, timeout_seconds: float = 10.0, attempts: int = ATTEMPTS):
        self.bucket, self.prefix = split_location(location)
        self.where = location.rstrip("/")
        self.timeout = timeout_seconds
        config = Config(
            connect_timeout=timeout_seconds,
            read_timeout=timeout_seconds,
            retries={"mode": "standard", "total_max_attempts": attempts},
            # Checksums only when the operation requires them: S3-compatible servers differ in the newer ones.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._config = config
        self._client, self._pid = None, None
        self.endpoint = self.client.meta.endpoint_url

    @property
    def client(self):
        """The SDK's client, made again in a forked child: two processes sharing one connection pool read
        each other's answers (a garbled 400, seen with two trainers forked from one process)."""
        if self._pid != os.getpid():
            self._client, self._pid = boto3.session.Session().client("s3", config=self._config), os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, what: str, key: str, call, *, missing=None, refused=None):
        """Run one SDK call; a missing object or a refused condition is an answer, anything else a StoreUnavailable."""
        try:
            return call()
        except ClientError as error:
            code = _code(error)
            if missing is not None and code in MISSING:
                return missing
            if refused is not None and code in REFUSED:
                return refused
            raise StoreUnavailable(
                f"the store {self.where} ({self.endpoint}) refused to {what} {key}: {code or error}"
            ) from None
        except BotoCoreError as error:  # no connection, a timeout: the network or the server is down or hung
            raise StoreUnavailable(
                f"the store {self.where} ({self.endpoint}) did not answer to {what} {key} "
                f"within {self.timeout:g}s ({type(error).__name__})"
            ) from None

    def get(self, key: str) -> bytes | None:
        found = self.get_versioned(key)
        return None if found is None else found.data

    def get_versioned(self, key: str) -> Versioned | None:
        return self.get_if_changed(key, None)

    def get_if_changed(self, key: str, etag: str | None) -> Versioned | None:
        condition = {"IfNoneMatch": etag} if etag else {}

        def fetch():
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key), **condition)
            except ClientError as error:
                if _code(error) == "304":  # Not Modified: the object still has the caller's tag
                    return UNCHANGED
                raise
            return Versioned(answer["Body"].read(), answer["ETag"])

        return self._call("read", key, fetch, missing=False) or None

    def put(self, key: str, data: bytes, durable: bool = True) -> None:  # S3 is always durable
        self._call("write", key, lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data))

    def put_if_absent(self, key: str, data: bytes) -> bool:
        return self._call(
            "claim",
            key,
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfNoneMatch="*") and True,
            refused=False,
        )

    def replace_if(self, key: str, data: bytes, etag: str | None) -> bool:
        if etag is None:
            return self.put_if_absent(key, data)
        return self._call(
            "replace",
            key,
            lambda: self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, IfMatch=etag) and True,
            missing=False,  # AWS answers If-Match on a deleted object with 404 (SeaweedFS 4.48: 412)
            refused=False,
        )

    def _listing(self, prefix: str) -> dict[str, dict]:
        """key -> the listing's entry for it (LastModified, Size, ...), every page of it."""

        def every_page():
            found = {}
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"].removeprefix(f"{self.prefix}/") if self.prefix else item["Key"]] = item
            return found

        return self._call("list", prefix, every_page)

    def list(self, prefix: str) -> dict[str, float]:
        return {key: item["LastModified"].timestamp() for key, item in self._listing(prefix).items()}

    def sizes(self, prefix: str) -> dict[str, int]:
        return {key: item["Size"] for key, item in self._listing(prefix).items()}

    def delete(self, key: str) -> None:
        self._call("delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    def writer_lock(self, name: str) -> AbstractContextManager[None]:
        return nullcontext()  # conditional writes claim numbers and move the pointer; no lock spans machines

    def remove_leftovers(self, prefix: str) -> None:
        """Nothing to do: an object is put whole or not at all, so no temporary file is ever left."""

    def check(self, writing: bool = True) -> None:
        """One write and one delete under the prefix (a reader: one listing of one key): proves the endpoint,
        the bucket and the credentials at once."""
        probe = f".write-test-{time.time_ns()}"
        try:
            self.client.head_bucket(Bucket=self.bucket)  # 404: no such bucket (a PUT would say only "denied")
            if writing:
                self.client.put_object(Bucket=self.bucket, Key=self._key(probe), Body=b"")
                self.client.delete_object(Bucket=self.bucket, Key=self._key(probe))
            else:
                self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=1)
        except ClientError as error:
            code = _code(error)
            problem = SETTINGS_AT_FAULT.get(code, f"is refused by {self.endpoint} ({code or error})")
            raise UserError(f"{problem}.", field="store", value=self.where) from None
        except BotoCoreError as error:
            raise UserError(
                f"cannot reach the store at {self.endpoint} within {self.timeout:g}s ({type(error).__name__}); "
                "start it, or set AWS_ENDPOINT_URL to where it answers.",
                field="store",
                value=self.where,
            ) from None
