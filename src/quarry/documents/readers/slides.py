"""PowerPoint presentations (pptx): each slide a page — the text of its shapes in the order the
slide lists them (groups opened), its tables as tables too; speaker notes are left out (they are
the presenter's, not the document's)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from quarry.documents.limits import MAX_DOM_UNZIPPED_BYTES, MAX_PDF_PAGES, MAX_SHEET_CELLS
from quarry.documents.model import Document, DocumentError, Page, Table, describe
from quarry.documents.readers.archive import check_zip
from quarry.documents.readers.tabular import table_lines

MAX_GROUP_DEPTH = 20  # shapes grouped in groups in groups…: real slides nest a few deep


def read(data: bytes) -> Document:
    from pptx import Presentation

    check_zip(data, "pptx", max_unzipped=MAX_DOM_UNZIPPED_BYTES)
    try:
        slides = list(Presentation(io.BytesIO(data)).slides)
    except Exception as exc:  # python-pptx raises KeyError, ValueError, lxml errors… for a broken package
        raise DocumentError(f"the pptx file cannot be opened: {describe(exc)}") from None
    if len(slides) > MAX_PDF_PAGES:
        raise DocumentError(f"the presentation has {len(slides):,} slides; Quarry reads at most {MAX_PDF_PAGES}")
    pages: list[Page] = []
    tables: list[Table] = []
    cells = 0
    for number, slide in enumerate(slides, start=1):
        lines: list[str] = []
        for shape in _shapes(slide.shapes, 0):
            if getattr(shape, "has_table", False):
                rows = [[cell.text.strip() for cell in row.cells] for row in shape.table.rows]
                cells += sum(len(row) for row in rows)
                if cells > MAX_SHEET_CELLS:
                    raise DocumentError(f"the pptx file's tables have more than {MAX_SHEET_CELLS:,} cells")
                tables.append(Table(rows, name=f"slide {number}"))
                lines.extend(table_lines(rows))
            elif getattr(shape, "has_text_frame", False):
                lines.extend(paragraph.text for paragraph in shape.text_frame.paragraphs)
        pages.append(Page(number, "\n".join(line for line in lines if line.strip())))
    return Document("pptx", pages=pages, tables=tables)


def _shapes(shapes: Any, depth: int) -> Iterator[Any]:
    """The shapes of a slide in its own order, those of groups in their place."""
    for shape in shapes:
        if hasattr(shape, "shapes"):  # a group
            if depth >= MAX_GROUP_DEPTH:
                raise DocumentError(f"the pptx file groups shapes more than {MAX_GROUP_DEPTH} levels deep")
            yield from _shapes(shape.shapes, depth + 1)
        else:
            yield shape
