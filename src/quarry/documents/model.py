"""What every reader produces: one ``Document`` shape, whatever the input type.

Coordinates are in the page's own units (PDF points, image pixels) with the origin at the top
left, so ``top`` grows downwards the way a reader's eye moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quarry.documents.einvoice import EInvoice


class DocumentError(ValueError):
    """The document cannot be read (corrupt, wrong type, over a limit, or unsupported)."""


def describe(exc: BaseException, limit: int = 300) -> str:
    """``KeyError: 'rId9'`` — an unforeseen exception named for an error message, cut to ``limit``."""
    text = str(exc)
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Word:
    text: str
    left: float
    top: float
    right: float
    bottom: float
    confidence: float = 1.0  # 1.0 for a text layer; the recogniser's score for OCR


@dataclass
class Page:
    number: int  # 1-based
    text: str  # in reading order: visual lines top to bottom, columns apart by two or more spaces
    width: float = 0.0
    height: float = 0.0
    words: list[Word] = field(default_factory=list)
    ocr: bool = False  # the text was recognised from pixels, not read from a text layer


@dataclass
class Table:
    rows: list[list[str]]  # the first row is the header when the format has one
    name: str | None = None  # sheet name, or where the table was found
    sheet_rows: list[int] | None = None  # each row's place in its sheet (from 0), for a part of one; else in order


@dataclass
class Attachment:
    filename: str
    input_type: str | None
    document: Document | None = None
    error: str | None = None  # why the attachment could not be read; the rest of the document still is


@dataclass
class Document:
    input_type: str
    pages: list[Page] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)  # key/value pairs the format states (headers, keys)
    attachments: list[Attachment] = field(default_factory=list)
    data: Any = None  # the parsed value of a JSON document
    einvoice: EInvoice | None = None  # the exact values of a UBL / CII e-invoice (XML, or embedded in a PDF)
    headings: list[str] = field(default_factory=list)  # lines the format marks as headings (HTML h1-h6, docx styles)

    @property
    def text(self) -> str:
        """All the text: pages, then each readable attachment under its name."""
        return "\n\n".join(part for part, _ in self.text_parts())

    def text_parts(self) -> list[tuple[str, Page | None]]:
        """What ``text`` joins with a blank line, in order: each page's text with its page, then
        each attachment's (under its name, or why it was not read), for offsets into ``text``."""
        parts: list[tuple[str, Page | None]] = [(page.text, page) for page in self.pages if page.text]
        for attachment in self.attachments:
            if attachment.document is not None and attachment.document.text:
                parts.append((f"Attachment: {attachment.filename}\n{attachment.document.text}", None))
            elif attachment.error:
                parts.append((f"Attachment: {attachment.filename} (not read: {attachment.error})", None))
        return parts

    @property
    def all_tables(self) -> list[Table]:
        return self.tables + [t for a in self.attachments if a.document for t in a.document.all_tables]

    @property
    def all_fields(self) -> list[tuple[str, str]]:
        return self.fields + [f for a in self.attachments if a.document for f in a.document.all_fields]


def transcript_lines(transcript: str) -> str:
    """A transcript is running speech: one sentence per line reads like a document's lines."""
    return re.sub(r"(?<=[.!?])\s+", "\n", transcript.strip())


def text_document(input_type: str, text: str, **parts: Any) -> Document:
    """A document that is one page of text, for formats without pages."""
    return Document(input_type, pages=[Page(1, text)], **parts)
