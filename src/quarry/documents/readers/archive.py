"""Zip-based formats (docx, xlsx) are checked before a parser inflates them: a zip bomb is refused."""

from __future__ import annotations

import io
import zipfile

from quarry.documents.limits import MAX_COMPRESSION_RATIO, MAX_UNZIPPED_BYTES
from quarry.documents.model import DocumentError


def check_zip(data: bytes, kind: str, *, max_unzipped: int = MAX_UNZIPPED_BYTES) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"the file is not a valid {kind} file (not a zip archive: {exc})") from None
    total = sum(entry.file_size for entry in entries)
    if total > max_unzipped:
        raise DocumentError(f"the {kind} file inflates to {total:,} bytes; at most {max_unzipped:,} are read")
    for entry in entries:
        if entry.file_size > 1_000_000 and entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
            raise DocumentError(
                f"the {kind} file's entry {entry.filename!r} is compressed suspiciously well (zip bomb)"
            )
