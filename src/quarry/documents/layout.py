"""Reading order from word boxes: words grouped into visual lines, lines top to bottom.

A text layer lists text in drawing order, which for invoices and forms is often far from
reading order (a label drawn long before its value). Rebuilding lines from the boxes puts a
label and the value beside it on one line again; a wide horizontal gap becomes two or more
spaces so that columns stay apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quarry.documents.model import Document, Word

COLUMN_GAP = "    "
_GAP = re.compile(r"\s{2,}|\t")


OPEN_LINES = 32  # lines a word is compared with: the most recent ones its top has not passed


def visual_lines(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines: a word joins the first line whose vertical span overlaps most of its own.

    Words are taken top to bottom, so a line whose bottom is above a word's top can take no later
    word either: only the lines still open are compared, and at most the ``OPEN_LINES`` most
    recent of them — O(n log n) for a page of n words rather than O(n²). On a page of text a
    handful of lines are open at once; a line is never reopened."""
    lines: list[list] = []  # [top, bottom, words], in the order they were started
    open_lines: list[list] = []  # the lines a word may still join, in the same order
    for word in sorted(words, key=lambda w: (w.top, w.left)):
        height = max(word.bottom - word.top, 1e-6)
        if open_lines and open_lines[0][1] < word.top or len(open_lines) > OPEN_LINES:
            open_lines = [line for line in open_lines[-OPEN_LINES:] if line[1] >= word.top]
        for line in open_lines:
            top, bottom, members = line
            overlap = min(bottom, word.bottom) - max(top, word.top)
            if overlap >= 0.5 * min(height, bottom - top):
                members.append(word)
                line[0], line[1] = min(top, word.top), max(bottom, word.bottom)
                break
        else:
            line = [word.top, word.bottom, [word]]
            lines.append(line)
            open_lines.append(line)
    lines.sort(key=lambda line: line[0])
    return [sorted(members, key=lambda w: w.left) for _, _, members in lines]


def line_text(line: list[Word]) -> str:
    """A line's words joined by a space, or by a column gap where the words stand far apart."""
    return COLUMN_GAP.join(" ".join(w.text for w in run) for run in _runs(line))


def reading_order_text(words: list[Word]) -> str:
    return "\n".join(line_text(line) for line in visual_lines(words))


@dataclass(frozen=True)
class Cell:
    """A run of words without a column gap; ``left``/``right`` are None where the format has no boxes."""

    text: str
    left: float | None = None
    right: float | None = None


def cells_of_words(line: list[Word]) -> list[Cell]:
    return [Cell(" ".join(w.text for w in run), run[0].left, run[-1].right) for run in _runs(line)]


def cells_of_text(line: str) -> list[Cell]:
    """Cells of a text line: parts two or more spaces (or a tab) apart."""
    return [Cell(part.strip()) for part in _GAP.split(line) if part.strip()]


def _runs(line: list[Word]) -> list[list[Word]]:
    runs: list[list[Word]] = []
    for word in line:
        if runs and not _far_apart(runs[-1][-1], word):
            runs[-1].append(word)
        else:
            runs.append([word])
    return runs


def _far_apart(previous: Word, word: Word) -> bool:
    char_width = (previous.right - previous.left) / max(len(previous.text), 1)
    return word.left - previous.right > 2.5 * char_width


def document_lines(document: Document) -> list[list[Cell]]:
    """Every line of every page (and readable attachment) as cells, with positions where known."""
    result: list[list[Cell]] = []
    for page in document.pages:
        if page.words:
            result.extend(cells_of_words(line) for line in visual_lines(page.words))
        else:
            result.extend(cells_of_text(line) for line in page.text.splitlines())
    for attachment in document.attachments:
        if attachment.document is not None:
            result.extend(document_lines(attachment.document))
    return [line for line in result if line]
