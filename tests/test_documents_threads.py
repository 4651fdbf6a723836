"""pdfium is not thread-safe: the engine's worker threads must be able to read PDFs at once.

Without the process-wide lock this crashes the interpreter (the test process dies), which is how
the crash-recovery test first showed it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from quarry.documents.parse import parse
from quarry.documents.rendering import page_images
from tests import documents


def test_many_threads_read_and_render_pdfs_at_once() -> None:
    data = documents.pdf()

    def work(index: int) -> tuple[str, int]:
        text = parse("pdf", data).text
        images = page_images("pdf", data) if index % 4 == 0 else []
        return text, len(images)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(64)))
    assert all(documents.NUMBER in text for text, _ in results)
    assert sum(count for _, count in results) == 16
