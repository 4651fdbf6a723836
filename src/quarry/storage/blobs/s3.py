"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, ...): what lets several Quarry machines share files.

Endpoint, credentials and region come from the standard AWS settings that boto3 reads itself
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, profiles, instance
roles), so whatever works for the ``aws`` CLI works here, with no Quarry-specific copy of those settings.

The credentials need ``s3:GetObject``, ``s3:PutObject`` and ``s3:ListBucket``: without ``ListBucket`` S3 answers a
missing key with 403 instead of 404, and the bucket check at start-up (HeadBucket) fails.
"""

from __future__ import annotations

import os
from contextlib import closing
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from quarry.storage.blobs import BlobStoreUnavailable, is_valid_key

DEFAULT_REGION = "us-east-1"
MAX_PRESIGNED_TTL_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live

# One client serves every worker thread: the pool must hold as many connections as there are threads in
# flight, or they queue on it. Standard retries back off on throttling (503 SlowDown) and transient errors.
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    max_pool_connections=64,
    connect_timeout=10,
    read_timeout=60,
    signature_version="s3v4",
)
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}


def new_client() -> Any:
    """An S3 client configured from the environment. ``AWS_REGION`` is honoured as well as
    ``AWS_DEFAULT_REGION`` (botocore reads only the latter); S3-compatible servers mostly ignore the region."""
    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or DEFAULT_REGION
    return session.client("s3", region_name=region, config=_CONFIG)


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        self.client = client if client is not None else new_client()
        self._check_bucket()

    def _check_bucket(self) -> None:
        """Fail at start-up, naming bucket and endpoint, rather than with a botocore traceback at the first upload."""
        endpoint = self.client.meta.endpoint_url
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            reason = {404: "it does not exist", 403: "access is denied (check the AWS credentials)"}.get(
                status, str(exc)
            )
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r} at {endpoint} is not usable: {reason}") from exc
        except NoCredentialsError as exc:
            raise BlobStoreUnavailable(
                f"S3 bucket {self.bucket!r} at {endpoint} is not usable: no AWS credentials"
                " (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)"
            ) from exc
        except BotoCoreError as exc:
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r} at {endpoint} is not reachable: {exc}") from exc

    def _object_key(self, key: str) -> str:
        if not is_valid_key(key):
            raise KeyError(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        """One PutObject: S3 stores an object whole or not at all, so a reader never sees half of it."""
        self.client.put_object(Bucket=self.bucket, Key=self._object_key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                raise KeyError(key) from None
            raise
        with closing(response["Body"]) as body:
            return body.read()

    def delete_under(self, prefix: str) -> None:
        """A page of keys at a time (S3 lists and deletes at most 1,000 at once)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._object_key(prefix) + "/"
        )
        for page in pages:
            if keys := [{"Key": item["Key"]} for item in page.get("Contents", [])]:
                answer = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                if errors := answer.get("Errors"):
                    first = errors[0]
                    raise OSError(
                        f"{len(errors)} files under {prefix!r} not deleted: {first.get('Code')} ({first.get('Key')})"
                    )

    def presigned_url(self, key: str, ttl_seconds: int) -> str:
        """A GET URL signed with the store's credentials: clients download straight from the bucket."""
        if not 0 < ttl_seconds <= MAX_PRESIGNED_TTL_SECONDS:
            raise ValueError(f"a presigned URL lives 1 to {MAX_PRESIGNED_TTL_SECONDS} seconds, not {ttl_seconds}")
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object_key(key)}, ExpiresIn=ttl_seconds
        )
