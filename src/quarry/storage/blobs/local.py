"""Blobs as files below one directory (the embedded default: ``$QUARRY_DATA_DIR/blobs``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from quarry.storage.blobs import is_valid_key


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not is_valid_key(key):
            raise KeyError(key)
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader never sees half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def delete_under(self, prefix: str) -> None:
        shutil.rmtree(self._path(prefix), ignore_errors=True)

    def presigned_url(self, key: str, ttl_seconds: int) -> str | None:
        """None: a local file has no URL of its own; Quarry serves it through ``FileUrlSigner``."""
        return None
