"""Where input files and derived files live: a small interface with interchangeable backends.

``open_blob_store`` picks the backend from ``QUARRY_BLOB_URL``; backends are imported only when chosen, so
boto3 is loaded only by deployments that store blobs in S3.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from quarry.config import Settings

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


class BlobStoreUnavailable(RuntimeError):
    """The configured store cannot be used (absent, forbidden, unreachable): a configuration error."""


class BlobStore(Protocol):
    """Bytes by key. Keys are ``/``-separated paths made by Quarry, never by clients."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The stored bytes; ``KeyError`` if there are none."""
        ...

    def delete_under(self, prefix: str) -> None:
        """Delete every blob whose key starts with ``prefix/`` (a call's files); none there is fine."""
        ...

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        """A URL anyone may GET the bytes from for ``ttl_seconds``, served by the store itself; ``None`` when
        the store cannot serve files, and Quarry serves them instead (see ``urls.FileLinks``)."""
        ...


def is_valid_key(key: str) -> bool:
    """Keys every backend accepts: no empty segments, no ``..``, nothing that escapes a directory or a prefix."""
    return bool(_KEY.match(key)) and ".." not in key


def open_blob_store(settings: Settings) -> BlobStore:
    """The store ``QUARRY_BLOB_URL`` names: unset → ``<data dir>/blobs``; ``s3://bucket[/prefix]``;
    ``file:///absolute/path``. Anything else is a configuration error, reported before serving anything."""
    url = settings.blob_url
    if not url:
        from quarry.storage.blobs.local import LocalBlobStore

        return LocalBlobStore(settings.data_dir / "blobs")
    parts = urlsplit(url)
    if parts.scheme == "s3" and parts.netloc and not parts.query and not parts.fragment:
        from quarry.storage.blobs.s3 import S3BlobStore

        return S3BlobStore(parts.netloc, unquote(parts.path))
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        from quarry.storage.blobs.local import LocalBlobStore

        return LocalBlobStore(Path(unquote(parts.path)))
    raise ValueError(
        f"QUARRY_BLOB_URL={url!r} is not a supported blob store: use s3://bucket or s3://bucket/prefix "
        "(endpoint and credentials from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), file:///absolute/path, "
        "or leave it unset for files under QUARRY_DATA_DIR"
    )
