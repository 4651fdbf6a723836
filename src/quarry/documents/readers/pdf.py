"""PDF: words with boxes from the text layer (pypdfium2); pages without one are rendered and OCR'd.
An e-invoice's XML embedded in it (Factur-X, ZUGFeRD, XRechnung) is read alongside the text."""

from __future__ import annotations

import ctypes
import math

from quarry.documents import einvoice
from quarry.documents.layout import reading_order_text
from quarry.documents.limits import (
    MAX_ATTACHMENTS,
    MAX_EINVOICE_XML_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_OCR_PAGES,
    MAX_PDF_PAGES,
    OCR_MAX_SIDE,
    PDF_OCR_DPI,
)
from quarry.documents.model import Document, DocumentError, Page, Word
from quarry.documents.pdfium import LOCK
from quarry.documents.readers import ocr

MIN_TEXT_LAYER_CHARS = 8  # fewer than this and the page is a scan, perhaps with a stray page number


def read(data: bytes) -> Document:
    import pypdfium2

    with LOCK:
        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise DocumentError(f"the PDF cannot be opened: {exc}") from None
        count = len(pdf)
    try:
        if count > MAX_PDF_PAGES:
            raise DocumentError(f"the PDF has {count} pages; at most {MAX_PDF_PAGES} are read")
        # Text layers first, all of them: the pages to OCR are counted before a second is spent on OCR.
        layers: list[tuple[float, float, list[Word]]] = []
        for index in range(count):
            with LOCK:  # one page at a time, so that other threads' PDFs are not held up
                page = _load_page(pdf, index)
                try:
                    width, height = page.get_size()
                    layers.append((width, height, _text_layer_words(page, height)))
                except pypdfium2.PdfiumError as exc:
                    raise DocumentError(f"page {index + 1} of the PDF cannot be read: {exc}") from None
                finally:
                    page.close()
        scans = {index for index, (_, _, words) in enumerate(layers) if _is_scan(words)}
        if len(scans) > MAX_OCR_PAGES:
            raise DocumentError(
                f"the PDF has {len(scans)} pages without a text layer; at most {MAX_OCR_PAGES} are OCR'd"
            )
        pages = []
        for index, (width, height, words) in enumerate(layers):
            if index not in scans:
                pages.append(Page(index + 1, reading_order_text(words), width, height, words))
                continue
            scale = ocr_scale(width, height)
            with LOCK:
                page = _load_page(pdf, index)
                try:
                    image = page.render(scale=scale).to_pil()
                except pypdfium2.PdfiumError as exc:
                    raise DocumentError(f"page {index + 1} of the PDF cannot be rendered: {exc}") from None
                finally:
                    page.close()
            pages.append(_ocr_page(image, scale, index + 1, width, height))  # OCR runs outside the lock
        return Document("pdf", pages=pages, einvoice=_embedded_einvoice(pdf))
    finally:
        with LOCK:
            pdf.close()


def _embedded_einvoice(pdf) -> einvoice.EInvoice | None:
    """The e-invoice among the PDF's embedded XML files, those under the names the standards use first.
    One that cannot be read, is too large or is no e-invoice is passed over: the text stands alone."""
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    files: list[bytes] = []
    with LOCK:
        try:
            candidates = []
            for index in range(min(pdf.count_attachments(), MAX_ATTACHMENTS)):
                name = pdf.get_attachment(index).get_name().lower()
                if name.endswith(".xml"):
                    candidates.append((name not in einvoice.EMBEDDED_NAMES, index))
            for _, index in sorted(candidates):
                attachment = pdf.get_attachment(index)
                size = ctypes.c_ulong()
                pdfium_c.FPDFAttachment_GetFile(attachment, None, 0, size)
                if 0 < size.value <= MAX_EINVOICE_XML_BYTES:
                    files.append(bytes(attachment.get_data()))
        except pypdfium2.PdfiumError:
            pass  # the files read so far are still tried
    return next((record for data in files if (record := einvoice.from_bytes(data))), None)


def ocr_scale(width: float, height: float) -> float:
    """Pixels per point to render a page for OCR: ``PDF_OCR_DPI``, less for a page so large that the
    image would pass ``OCR_MAX_SIDE`` (the recogniser scales larger images down anyway) or
    ``MAX_IMAGE_PIXELS``. A 200 × 200 inch page costs what a letter page does, not 1.6 gigapixels."""
    width, height = max(width, 1.0), max(height, 1.0)
    return min(PDF_OCR_DPI / 72, OCR_MAX_SIDE / max(width, height), math.sqrt(MAX_IMAGE_PIXELS / (width * height)))


def _is_scan(words: list[Word]) -> bool:
    return sum(len(w.text) for w in words) < MIN_TEXT_LAYER_CHARS


def _load_page(pdf, index: int):
    """Page ``index``; a page the file lists but does not hold (a lying ``/Count``) is a ``DocumentError``."""
    import pypdfium2

    try:
        return pdf[index]
    except pypdfium2.PdfiumError as exc:
        raise DocumentError(f"page {index + 1} of the PDF cannot be read: {exc}") from None


def _text_layer_words(page, height: float) -> list[Word]:
    """Words of the text layer: runs of non-space characters, each boxed by the union of its characters."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        words: list[Word] = []
        chars: list[str] = []
        box = [0.0, 0.0, 0.0, 0.0]
        for index, char in enumerate(text):
            if char.isspace():
                if chars:
                    words.append(Word("".join(chars), box[0], height - box[3], box[2], height - box[1]))
                    chars = []
                continue
            left, bottom, right, top = textpage.get_charbox(index)
            if chars:
                box = [min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)]
            else:
                box = [left, bottom, right, top]
            chars.append(char)
        if chars:
            words.append(Word("".join(chars), box[0], height - box[3], box[2], height - box[1]))
        return words
    finally:
        textpage.close()


def _ocr_page(image, scale: float, number: int, width: float, height: float) -> Page:
    words, _, _ = ocr.recognise(image)
    words = [
        Word(w.text, w.left / scale, w.top / scale, w.right / scale, w.bottom / scale, w.confidence) for w in words
    ]
    return Page(number, reading_order_text(words), width, height, words, ocr=True)
