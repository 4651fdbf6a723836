"""The ``inputType`` of a local file: by its extension, else by its first bytes (a scan named
``scan`` or an export named ``data.bin`` still goes in as what it is)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from quarry.documents.input_types import MEDIA_TYPES, input_type_for

INPUT_TYPES = tuple(MEDIA_TYPES)

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
)
_EMAIL_HEADERS = ("received:", "return-path:", "mime-version:", "from:", "delivered-to:", "message-id:")
_HEADER = re.compile(r"^[!-9;-~]+:")


def input_type_of(path: Path) -> str | None:
    """The input type of the file at ``path``, or None when neither its name nor its content tells."""
    return input_type_for(path.name, None) or sniff(path.read_bytes())


def sniff(data: bytes) -> str | None:
    """The input type that ``data`` looks like."""
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
    except zipfile.BadZipFile:
        return None
    if any(name.startswith("word/") for name in names):
        return "docx"
    if any(name.startswith("xl/") for name in names):
        return "xlsx"
    return None


def _text_kind(text: str) -> str:
    head = text.lstrip()[:512].lower()
    if head.startswith(("{", "[")):
        try:
            json.loads(text)
            return "json"
        except ValueError:
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
