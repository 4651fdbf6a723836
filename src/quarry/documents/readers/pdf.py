"""PDF: words with boxes from the text layer (pypdfium2); pages without one are rendered and OCR'd."""

from __future__ import annotations

from quarry.documents.layout import reading_order_text
from quarry.documents.limits import MAX_OCR_PAGES, MAX_PDF_PAGES, PDF_OCR_DPI
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
        pages, ocr_pages = [], 0
        for index in range(count):
            with LOCK:  # one page at a time, so that other threads' PDFs are not held up by OCR
                page = pdf[index]
                try:
                    width, height = page.get_size()
                    words = _text_layer_words(page, height)
                    scan = sum(len(w.text) for w in words) < MIN_TEXT_LAYER_CHARS
                    if scan:
                        ocr_pages += 1
                        if ocr_pages > MAX_OCR_PAGES:
                            raise DocumentError(
                                f"the PDF has more than {MAX_OCR_PAGES} pages without a text layer to OCR"
                            )
                        image = page.render(scale=PDF_OCR_DPI / 72).to_pil()
                finally:
                    page.close()
            if scan:
                pages.append(_ocr_page(image, index + 1, width, height))
            else:
                pages.append(Page(index + 1, reading_order_text(words), width, height, words))
        return Document("pdf", pages=pages)
    finally:
        with LOCK:
            pdf.close()


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


def _ocr_page(image, number: int, width: float, height: float) -> Page:
    scale = PDF_OCR_DPI / 72
    words, _, _ = ocr.recognise(image)
    words = [
        Word(w.text, w.left / scale, w.top / scale, w.right / scale, w.bottom / scale, w.confidence) for w in words
    ]
    return Page(number, reading_order_text(words), width, height, words, ocr=True)
