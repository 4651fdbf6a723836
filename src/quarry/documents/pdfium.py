"""pdfium is not thread-safe (pypdfium2's documentation says so, and concurrent use crashes the
process): every use of it in Quarry holds this lock. Work that needs no pdfium — OCR of a
rendered page — runs outside it."""

import threading

LOCK = threading.RLock()
