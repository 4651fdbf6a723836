"""Signed, expiring URLs for stored files (the ``s3URL`` fields): the store's own when it has them, else Quarry's.

A Quarry-served URL is ``<base>/v2/files/<key>?expires=<unix>&signature=<hex HMAC-SHA256(secret, key + expires)>``;
anyone holding it can fetch the file until it expires, without an API key, as with S3 presigned URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from quarry.storage.blobs import BlobStore

DEFAULT_TTL_SECONDS = 3600
EXPIRY_STEP_SECONDS = 60
"""Expiry times are rounded down to a whole minute: a file's URL stays the same for a minute (a
polled call renders the same bytes, and can be kept rendered), valid 59 to 60 minutes."""


class FileUrlSigner:
    def __init__(self, secret: str, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._secret = secret.encode()
        self.ttl_seconds = ttl_seconds
        self._signature = lru_cache(maxsize=16384)(self._sign)  # the same URLs are signed again and again

    def _sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def expiry(self) -> int:
        """When a URL signed now expires (unix seconds): the same for a whole ``EXPIRY_STEP_SECONDS``."""
        return int(time.time()) // EXPIRY_STEP_SECONDS * EXPIRY_STEP_SECONDS + self.ttl_seconds

    def url(self, base_url: str, key: str) -> str:
        expires = self.expiry()
        return (
            f"{base_url.rstrip('/')}/v2/files/{quote(key)}?expires={expires}&signature={self._signature(key, expires)}"
        )

    def valid(self, key: str, expires: int, signature: str) -> bool:
        expected = self._signature(key, expires).encode()
        return expires >= time.time() and hmac.compare_digest(expected, signature.encode())  # bytes: any text compares


class FileLinks:
    """The URL a client fetches a stored file from. An S3 store presigns its own, so the bytes go straight from
    the bucket; otherwise Quarry serves the file at ``/v2/files``, which checks requests with ``signer``."""

    def __init__(self, signer: FileUrlSigner, blobs: BlobStore) -> None:
        self.signer = signer
        self.blobs = blobs

    def url(self, base_url: str, key: str) -> str:
        return self.blobs.presigned_url(key, self.signer.ttl_seconds) or self.signer.url(base_url, key)
