"""The v2 ``InputType`` values, with the media type and file extension of each."""

from __future__ import annotations

from pathlib import PurePath
from typing import Literal

InputType = Literal[
    "csv", "docx", "email", "heic", "heif", "html", "jpeg", "json", "m4a",
    "mp3", "pdf", "png", "text", "wav", "webp", "xls", "xlsx", "xml",
]  # fmt: skip

MEDIA_TYPES: dict[str, tuple[str, str]] = {
    "csv": ("text/csv", "csv"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "email": ("message/rfc822", "eml"),
    "heic": ("image/heic", "heic"),
    "heif": ("image/heif", "heif"),
    "html": ("text/html", "html"),
    "jpeg": ("image/jpeg", "jpg"),
    "json": ("application/json", "json"),
    "m4a": ("audio/mp4", "m4a"),
    "mp3": ("audio/mpeg", "mp3"),
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "text": ("text/plain", "txt"),
    "wav": ("audio/wav", "wav"),
    "webp": ("image/webp", "webp"),
    "xls": ("application/vnd.ms-excel", "xls"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "xml": ("application/xml", "xml"),
}
EXTENSION_MEDIA_TYPES = {extension: media for media, extension in MEDIA_TYPES.values()}

_BY_EXTENSION = {extension: input_type for input_type, (_, extension) in MEDIA_TYPES.items()}
_BY_EXTENSION.update({"jpeg": "jpeg", "htm": "html", "text": "text"})
_BY_MEDIA_TYPE = {media: input_type for input_type, (media, _) in MEDIA_TYPES.items()}


def input_type_for(filename: str | None, content_type: str | None) -> str | None:
    """The ``inputType`` of an uploaded file: by its name's extension, else by its media type."""
    extension = PurePath(filename or "").suffix.lower().lstrip(".")
    media = (content_type or "").split(";")[0].strip().lower()
    return _BY_EXTENSION.get(extension) or _BY_MEDIA_TYPE.get(media)
