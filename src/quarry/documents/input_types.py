"""The v2 ``InputType`` values, with the media type and file extension of each, and the one that
bytes look like (``sniff``: magic numbers, zip contents, JSON that parses, markup, mail headers)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import PurePath
from typing import Literal

InputType = Literal[
    "csv", "docx", "email", "heic", "heif", "html", "jpeg", "json", "m4a", "mov",
    "mp3", "mp4", "pdf", "png", "pptx", "text", "wav", "webp", "xls", "xlsx", "xml",
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
    "mov": ("video/quicktime", "mov"),
    "mp3": ("audio/mpeg", "mp3"),
    "mp4": ("video/mp4", "mp4"),
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
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


LOOKS = {  # what the bytes ``sniff`` takes for each type look like, in words
    "docx": "a Word document",
    "email": "an email",
    "heic": "a HEIC image",
    "heif": "a HEIF image",
    "html": "HTML",
    "jpeg": "a JPEG image",
    "json": "JSON",
    "m4a": "M4A audio",
    "mov": "a QuickTime video",
    "mp3": "MP3 audio",
    "mp4": "an MP4 video",
    "pdf": "a PDF document",
    "png": "a PNG image",
    "pptx": "a PowerPoint presentation",
    "text": "plain text",
    "wav": "WAV audio",
    "webp": "a WebP image",
    "xls": "an Office 97-2003 file",
    "xlsx": "an Excel workbook",
    "xml": "XML",
}

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"\xff\xd8\xff", "jpeg"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),  # OLE2: the binary Office formats
    (0, b"ID3", "mp3"),
    (0, b"\xff\xfb", "mp3"),
    (0, b"\xff\xf3", "mp3"),
    (8, b"WEBP", "webp"),
    (8, b"WAVE", "wav"),
    (8, b"heic", "heic"),
    (8, b"heix", "heic"),
    (8, b"mif1", "heif"),
    (8, b"M4A ", "m4a"),
    (8, b"qt  ", "mov"),
    (4, b"ftyp", "mp4"),  # any other ISO media file: after the brands above
)
_EMAIL_HEADERS = ("received:", "return-path:", "mime-version:", "from:", "delivered-to:", "message-id:")
_HEADER = re.compile(r"^[!-9;-~]+:")


def sniff(data: bytes) -> str | None:
    """The input type that ``data`` looks like; any other UTF-8 is ``text``, other bytes ``None``.
    Hostile bytes are sniffed too (by ``parse`` when a reader fails): nothing here raises on them."""
    for offset, signature, input_type in _SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            return input_type
    if data.startswith(b"PK\x03\x04"):
        return _office_zip(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return _text_kind(text)


def _office_zip(data: bytes) -> str | None:
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError):  # what a mangled zip raises (as ``archive.check_zip``)
        return None
    if any(name.startswith("word/") for name in names):
        return "docx"
    if any(name.startswith("xl/") for name in names):
        return "xlsx"
    if any(name.startswith("ppt/") for name in names):
        return "pptx"
    return None


def _text_kind(text: str) -> str:
    head = text.lstrip()[:512].lower()
    if head.startswith(("{", "[")):
        try:
            json.loads(text)
            return "json"
        except (ValueError, RecursionError):  # JSON nested past the interpreter's limit is text here
            pass
    if head.startswith(("<!doctype html", "<html")):
        return "html"
    if head.startswith("<?xml") or head.startswith("<"):
        return "html" if "<html" in head else "xml"
    if head.startswith(_EMAIL_HEADERS) and _is_header_block(text):
        return "email"
    return "text"


def _is_header_block(text: str) -> bool:
    """Whether ``text`` opens with RFC 5322 headers (two or more) and then a blank line."""
    block, blank, _ = text.lstrip().replace("\r\n", "\n").partition("\n\n")
    lines = block.split("\n")
    return bool(blank) and len(lines) >= 2 and all(_HEADER.match(line) or line[:1] in " \t" for line in lines)
