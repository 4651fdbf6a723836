"""Where in the document each extracted value is written: the citations of an extraction.

Every provider's answer is grounded the same way, afterwards, against the words the document's
reader found — the builtin extractor's and a model's alike, so that a value a model invented,
which the document does not contain, is found out: it gets no citation.

A value is looked for among runs of one to ``MAX_RUN`` consecutive words (tokens of the text, on
pages without word geometry), most certain first: the same words (case and accents aside), the
same number (``1.234,50`` is 1234.5), the same date (``05.03.2024`` is ``2024-03-05``), and — for
strings of four characters or more — nearly the same words (OCR misreads), scored by similarity.
A word run with geometry is cited as a region of its page, ``{page, left, top, width, height}``
normalised to [0, 1] from the page's top left (bem's ``fieldBoundingBoxes``); text without
geometry as a span of the document's text, ``{start, end}`` (Quarry's ``fieldTextSpans``; in a
spreadsheet with its ``cell`` and ``sheet``). Both carry the ``text`` found there and a ``score``
(1 exact, less when fuzzy).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from quarry.documents.model import Document, Page
from quarry.documents.readers.tabular import SPREADSHEETS, cell_at, cell_name
from quarry.pointers import leaves, unescape
from quarry.providers.llm.builtin.values import MONTHS, currency_in, fold, parse_date, parse_number

MAX_RUN = 12
"""The longest run of words a value is looked for in (an address, a name with its legal form)."""
EXACT_RUN = 3
"""Number and date forms are read from runs of up to this many words (``5 March 2024``)."""
MIN_FUZZY_SCORE = 0.85
FUZZY_BUDGET = 500_000
"""Word runs compared, per document, in all: about a second of fuzzy matching, then no more."""
CITATIONS_PER_VALUE = 3
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TOKEN = re.compile(r"\S+")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_MONTH_PREFIXES = {name[:3] for names in MONTHS.values() for name in names.split()}
_DATE_HINT = re.compile(r"\d{4}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2}")
_DIGIT_GROUP = re.compile(r"\d[\d.,'’]*")
_EDGE_PUNCTUATION = ".,;:()[]{}\"'«»“”"


@dataclass(frozen=True)
class _Token:
    text: str
    page: int
    box: tuple[float, float, float, float] | None  # normalised left, top, right, bottom
    span: tuple[int, int] | None  # offsets in Document.text


@dataclass
class Citations:
    """``boxes`` and ``spans`` by JSON Pointer, and the pointers of values found nowhere."""

    boxes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    spans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ungrounded: list[str] = field(default_factory=list)


def ground(document: Document, content: dict[str, Any], schema: dict[str, Any] | None = None) -> Citations:
    """The citations of every leaf of ``content``. Booleans, which documents rarely spell out, and
    values of an ``enum`` of ``schema`` (a category named by the schema, not quoted: ``card`` for
    a VISA slip) are not looked for. A spreadsheet's spans also name their cells."""
    index = _Index(_tokens(document))
    cells = _Cells(document) if document.input_type in SPREADSHEETS else None
    citations = Citations()
    for pointer, value in leaves(content):
        found = None if value == "" or _enumerated(schema or {}, pointer) else index.find(value)
        if found is None:
            continue
        if not found:
            citations.ungrounded.append(pointer)
        for run, score in found[:CITATIONS_PER_VALUE]:
            cited = {"text": " ".join(token.text for token in run), "score": score}
            if run[0].box is not None:
                citations.boxes.setdefault(pointer, []).append(_region(run) | cited)
            else:
                span = {"start": run[0].span[0], "end": run[-1].span[1]}  # type: ignore[index]
                if cells is not None:
                    span |= cells.of(run[0].page, span["start"], span["end"])
                citations.spans.setdefault(pointer, []).append(span | cited)
    return citations


class _Cells:
    """Where a span of a spreadsheet's text is: ``{sheet?, cell}`` — its cell (``B3``), or the
    cells it spans (``B3:C3``); the sheet's name for workbooks (a CSV file has one, unnamed)."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.page_offsets = {page.number: offset for _, page, offset in _parts(document) if page is not None}

    def of(self, page: int, start: int, end: int) -> dict[str, str]:
        if page not in self.page_offsets or page > len(self.document.tables):
            return {}
        table = self.document.tables[page - 1]  # a spreadsheet's pages are its sheets' tables
        first = cell_at(table.rows, start - self.page_offsets[page])
        last = cell_at(table.rows, end - 1 - self.page_offsets[page])
        if first is None or last is None:
            return {}
        if table.sheet_rows is not None:  # a chunk of the sheet's rows
            first, last = (table.sheet_rows[first[0]], first[1]), (table.sheet_rows[last[0]], last[1])
        cell = cell_name(*first) if first == last else f"{cell_name(*first)}:{cell_name(*last)}"
        return {"cell": cell} if self.document.input_type == "csv" else {"sheet": table.name or "", "cell": cell}


def _region(run: list[_Token]) -> dict[str, Any]:
    """The smallest box around the run's words (all on one page), in bem's shape."""
    boxes = [token.box for token in run if token.box is not None]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return {
        "page": run[0].page,
        "left": round(left, 4),
        "top": round(top, 4),
        "width": round(right - left, 4),
        "height": round(bottom - top, 4),
    }


def _enumerated(schema: Any, pointer: str) -> bool:
    """Whether the schema gives the value at ``pointer`` an ``enum`` (or a ``const``), looking
    through ``anyOf``/``oneOf``/``allOf`` (a nullable enum is ``anyOf: [{enum}, {type: null}]``)."""
    if not isinstance(schema, dict):
        return False
    branches = [b for k in ("anyOf", "oneOf", "allOf") for b in schema.get(k, []) if isinstance(b, dict)]
    if any(_enumerated(branch, pointer) for branch in branches):
        return True
    if not pointer:
        return "enum" in schema or "const" in schema
    part, _, rest = pointer[1:].partition("/")
    rest = f"/{rest}" if rest else ""
    if part.isdigit() and "items" in schema:
        return _enumerated(schema["items"], rest)
    return _enumerated(schema.get("properties", {}).get(unescape(part)), rest)


def _tokens(document: Document) -> list[list[_Token]]:
    """The document's words, one list per part of its text (``Document.text_parts``: pages, then
    attachments) in reading order: with their regions where the reader measured them, else as
    spans of ``Document.text``."""
    pages = []
    for text, page, offset in _parts(document):
        if page is not None and page.words and page.width > 0 and page.height > 0:
            w, h = page.width, page.height
            pages.append(
                [
                    _Token(word.text, page.number, (word.left / w, word.top / h, word.right / w, word.bottom / h), None)
                    for word in page.words
                ]
            )
        else:
            pages.append(_spans(text, offset, page.number if page is not None else 0))
    return pages


def _parts(document: Document) -> list[tuple[str, Page | None, int]]:
    """``Document.text_parts`` with the offset where each starts in ``Document.text``."""
    parts, offset = [], 0
    for text, page in document.text_parts():
        parts.append((text, page, offset))
        offset += len(text) + 2  # the blank line between parts
    return parts


def _spans(text: str, offset: int, page: int) -> list[_Token]:
    return [_Token(m.group(), page, None, (offset + m.start(), offset + m.end())) for m in _TOKEN.finditer(text)]


def _key(text: str) -> str:
    return " ".join(fold(word).strip(_EDGE_PUNCTUATION) for word in text.split())


Run = list[_Token]
Found = list[tuple[Run, float]]


class _Index:
    """Where each word, number, date and currency starts, built once per document."""

    def __init__(self, pages: list[list[_Token]]) -> None:
        self.pages = pages
        self.keys = [[_key(token.text) for token in tokens] for tokens in pages]  # folded once: folding is slow
        self.fuzzy_budget = FUZZY_BUDGET
        self.words: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.numbers: dict[float, list[Run]] = defaultdict(list)
        self.dates: dict[str, list[Run]] = defaultdict(list)
        self.currencies: dict[str, list[Run]] = defaultdict(list)
        for page, tokens in enumerate(pages):
            for start, (token, key) in enumerate(zip(tokens, self.keys[page], strict=True)):
                self.words[key].append((page, start))
                if currency := currency_in(token.text):
                    self.currencies[currency].append([token])
                figure = any(c.isdigit() for c in token.text)
                if figure or key[:3] in _MONTH_PREFIXES:
                    self._index_dates(tokens, start)
                if not figure:
                    continue
                for length in range(1, EXACT_RUN + 1):  # a figure grouped by spaces is several words
                    run = tokens[start : start + length]
                    if len(run) < length or (length > 1 and not _DIGIT_GROUP.fullmatch(run[-1].text)):
                        break
                    number = parse_number(" ".join(t.text for t in run))
                    if number is not None:
                        self.numbers[round(number, 2)].append(run)

    def _index_dates(self, tokens: list[_Token], start: int) -> None:
        """The shortest run from ``start`` that reads as a date (both ways when ``04/01/2024``
        may be either), if the date starts there."""
        if not _DATE_HINT.search(" ".join(t.text for t in tokens[start : start + EXACT_RUN])):
            return  # no year nor a/b/yy: no date starts here (parse_date is the costly part of indexing)
        for length in range(1, EXACT_RUN + 1):
            run = tokens[start : start + length]
            text = " ".join(t.text for t in run)
            dates = {parse_date(text), parse_date(text, day_first=False)} - {None}
            if dates:
                rest = " ".join(t.text for t in run[1:])
                for date in dates - {parse_date(rest), parse_date(rest, day_first=False)}:
                    self.dates[str(date)].append(run)
                return

    def find(self, value: Any) -> Found | None:
        """Where ``value`` is written, best first (``[]``: nowhere); ``None``: not looked for."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:  # an integer of hundreds of digits: no document figure
                return []
            if not math.isfinite(number):
                return []
            runs = self.numbers.get(round(number, 2), [])
            return [(run, 1.0) for run in runs] or self._words(_number_text(value))
        text = str(value).strip()
        if _ISO_DATE.fullmatch(text) and text in self.dates:
            return [(run, 1.0) for run in self.dates[text]]
        if _CURRENCY_CODE.fullmatch(text) and text in self.currencies:  # GBP is written £
            return [(run, 1.0) for run in self.currencies[text]]
        found = self._words(text)
        if not found and re.fullmatch(r"[\d\s.,'’-]+", text) and (number := parse_number(text)) is not None:
            found = [(run, 1.0) for run in self.numbers.get(round(number, 2), [])]
        return found

    def _words(self, text: str) -> Found | None:
        key = _key(text)
        words = key.split()
        if not words:
            return []
        exact = [
            (self.pages[page][start : start + len(words)], 1.0)
            for page, start in self.words.get(words[0], [])
            if " ".join(self.keys[page][start : start + len(words)]) == key
        ]
        if exact or len(key) < 4 or len(words) > MAX_RUN:
            return exact
        return self._fuzzy(key, len(words))

    def _fuzzy(self, key: str, length: int) -> Found | None:
        """Runs of about as many words that read nearly the same (OCR misreads), best first, none
        overlapping another; ``None`` once the document's budget of comparisons is spent (a long
        document is not scanned again and again: its remaining values are not looked for)."""
        candidates = sum(
            max(0, len(tokens) - size + 1) for tokens in self.pages for size in (length - 1, length, length + 1)
        )
        if candidates > self.fuzzy_budget:
            return None
        self.fuzzy_budget -= candidates
        shortest, longest = (
            len(key) * MIN_FUZZY_SCORE / (2 - MIN_FUZZY_SCORE),
            len(key) * (2 - MIN_FUZZY_SCORE) / MIN_FUZZY_SCORE,
        )
        found = []
        for page, keys in enumerate(self.keys):
            for size in {max(1, length - 1), length, length + 1}:
                for start in range(len(keys) - size + 1):
                    candidate = " ".join(keys[start : start + size])
                    if not shortest <= len(candidate) <= longest:  # too short or too long to be that close
                        continue
                    score = fuzz.ratio(key, candidate, score_cutoff=MIN_FUZZY_SCORE * 100)
                    if score:
                        found.append((page, start, size, round(score / 100, 3)))
        kept: list[tuple[int, int, int, float]] = []
        for page, start, size, score in sorted(found, key=lambda candidate: -candidate[3]):
            if not any(p == page and s < start + size and start < s + n for p, s, n, _ in kept):  # overlapping
                kept.append((page, start, size, score))
                if len(kept) == CITATIONS_PER_VALUE:
                    break
        return [(self.pages[page][start : start + size], score) for page, start, size, score in kept]


def _number_text(value: float | int) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
