"""Where input files and derived files live: a small interface with interchangeable backends."""

from __future__ import annotations

from typing import Protocol


class BlobStore(Protocol):
    """Bytes by key. Keys are ``/``-separated paths made by Quarry, never by clients."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes:
        """The stored bytes; ``KeyError`` if there are none."""
        ...
