"""The text of an input document, in reading order.

Every reader runs on bytes a client sent, so each one fails with ``DocumentError`` and a
precise message instead of crashing, and none reads more than it must.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
from html.parser import HTMLParser

import defusedxml.ElementTree as SafeXML

MAX_PDF_PAGES = 500


class DocumentError(ValueError):
    """The document cannot be read (corrupt, wrong type, or unsupported)."""


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DocumentError("the file is not valid UTF-8 text") from None


def _json_lines(value: object, prefix: str = "") -> list[str]:
    """``{"invoice": {"number": "A1"}}`` -> ``["invoice number: A1"]``: JSON as labelled lines."""
    if isinstance(value, dict):
        return [line for key, item in value.items() for line in _json_lines(item, f"{prefix} {key}".strip())]
    if isinstance(value, list):
        return [line for item in value for line in _json_lines(item, prefix)]
    return [f"{prefix}: {value}" if prefix else str(value)]


def json_text(value: object) -> str:
    """JSON as labelled lines, the way a document would show it."""
    return "\n".join(_json_lines(value))


class _HTMLText(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section", "article"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html(data: bytes) -> str:
    parser = _HTMLText()
    parser.feed(_decode(data))
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _xml(data: bytes) -> str:
    try:
        root = SafeXML.fromstring(data)
    except Exception as exc:  # defusedxml raises several kinds, all meaning "not acceptable XML"
        raise DocumentError(f"the XML cannot be parsed: {exc}") from None
    lines = []
    for element in root.iter():
        text = (element.text or "").strip()
        if text:
            lines.append(f"{element.tag.split('}')[-1]}: {text}")
    return "\n".join(lines)


def _csv(data: bytes) -> str:
    rows = list(csv.reader(io.StringIO(_decode(data))))
    return "\n".join(", ".join(row) for row in rows)


def _email(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not message.keys():
        raise DocumentError("the file is not an RFC 822 email: it has no headers")
    lines = [f"{name}: {message[name]}" for name in ("From", "To", "Subject", "Date") if message[name]]
    body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
    if body is not None:
        content = body.get_content()
        lines.append(_html(content.encode()) if body.get_content_type() == "text/html" else content)
    return "\n".join(lines)


def _pdf(data: bytes) -> str:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise DocumentError(f"the PDF cannot be opened: {exc}") from None
    try:
        if len(pdf) > MAX_PDF_PAGES:
            raise DocumentError(f"the PDF has {len(pdf)} pages; at most {MAX_PDF_PAGES} are read")
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(pages).replace("\r\n", "\n")
    finally:
        pdf.close()


def document_text(input_type: str, data: bytes) -> str:
    """Text of a document of the given ``inputType``."""
    if input_type == "text":
        return _decode(data)
    if input_type == "json":
        try:
            return json_text(json.loads(_decode(data)))
        except json.JSONDecodeError as exc:
            raise DocumentError(f"the JSON cannot be parsed: {exc}") from None
    readers = {"html": _html, "xml": _xml, "csv": _csv, "email": _email, "pdf": _pdf}
    if input_type not in readers:
        raise DocumentError(f"reading {input_type!r} documents is not supported yet")
    return readers[input_type](data)
