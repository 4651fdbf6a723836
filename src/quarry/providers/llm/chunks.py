"""Documents longer than a model's context: read in page-aligned chunks, the answers merged.

A chunk holds whole pages (and attachments, after the pages) while they fit the budget
of document tokens a request may carry; a page longer than the budget alone is cut at line ends
(a single longer line at the budget), so nothing is left out. Tokens are estimated offline:
one token per three bytes of UTF-8 (English runs about four characters a token, CJK one
character of three bytes), which errs on the side of smaller chunks.

The answers are merged field by field (``merge``): objects key by key; arrays concatenated in
page order, an item repeated by a later chunk kept once; a scalar from the chunk that gave it the
highest confidence (the earliest of equals). Chunks that disagree on a scalar are listed as a
conflict, and the chosen value's confidence drops to ``CONFLICT_CONFIDENCE`` so that it asks for
review.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quarry.documents.model import Document
from quarry.pointers import escape

BYTES_PER_TOKEN = 3
CONFLICT_CONFIDENCE = 0.5
PART_SEPARATOR = "\n\n"


def part_schema(schema: Any) -> Any:
    """The schema with nothing required anywhere, for a part of a document, which may hold none of
    it (the merged answer is checked against the real schema). Property names are kept as they are
    (a property may be called ``required``)."""
    if isinstance(schema, list):
        return [part_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    loose = {}
    for key, value in schema.items():
        if key in ("required", "dependentRequired", "minItems", "minProperties"):
            continue
        if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            loose[key] = {name: part_schema(item) for name, item in value.items()} if isinstance(value, dict) else value
        else:
            loose[key] = part_schema(value)
    return loose


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


@dataclass
class Chunk:
    """Consecutive text of a document, with the pages it covers (empty: attachments only)."""

    text: str
    pages: list[int] = field(default_factory=list)

    @property
    def label(self) -> str:
        if not self.pages:
            return "its attachments"
        first, last = self.pages[0], self.pages[-1]
        return f"page {first}" if first == last else f"pages {first}-{last}"

    @property
    def wire(self) -> dict[str, Any]:
        """How an event names the chunk: ``{"pages": [first, last]}`` (``[]``: attachments)."""
        return {"pages": [self.pages[0], self.pages[-1]] if self.pages else []}


def chunk_document(document: Document, budget_tokens: int, page_tokens: Mapping[int, int] | None = None) -> list[Chunk]:
    """The document's text in chunks of at most ``budget_tokens`` (estimated), in reading order;
    ``page_tokens[n]`` more for a chunk that covers page ``n`` (its image, when images go along)."""
    page_tokens = page_tokens or {}
    parts = [(p.text, p.number) for p in document.pages if p.text or p.number in page_tokens]
    parts += [(text, None) for text, page in document.text_parts() if page is None]  # attachments
    pieces: list[tuple[str, int | None]] = []
    for text, number in parts:
        extra = page_tokens.get(number, 0) if number is not None else 0
        pieces += [(piece, number) for piece in _cut(text, max(1, budget_tokens - extra))]
    chunks: list[Chunk] = []
    current: list[str] = []
    pages: list[int] = []
    used = 0
    for piece, number in pieces:
        text_cost = estimate_tokens(piece + PART_SEPARATOR)
        new_page = number is not None and number not in pages
        image_cost = page_tokens.get(number, 0) if number is not None else 0
        if current and used + text_cost + (image_cost if new_page else 0) > budget_tokens:
            chunks.append(Chunk(PART_SEPARATOR.join(current), pages))
            current, pages, used = [], [], 0
            new_page = number is not None
        current.append(piece)
        if new_page:
            pages.append(number)  # type: ignore[arg-type]
            used += image_cost
        used += text_cost
    if current or not chunks:
        chunks.append(Chunk(PART_SEPARATOR.join(current), pages))
    return chunks


def _cut(text: str, budget_tokens: int) -> list[str]:
    """A part's text in pieces that fit the budget: whole lines where it can, else a line cut."""
    if estimate_tokens(text + PART_SEPARATOR) <= budget_tokens:
        return [text]
    limit = max(1, budget_tokens * BYTES_PER_TOKEN - len(PART_SEPARATOR.encode()))
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line.encode("utf-8")) > limit:  # one line longer than a chunk: cut it where the budget ends
            head = _prefix_within(line, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head) :]
        if len((current + line).encode("utf-8")) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return pieces


def _prefix_within(text: str, limit: int) -> str:
    """The longest prefix of ``text`` of at most ``limit`` bytes in UTF-8 (whole characters)."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


@dataclass
class _Leaf:
    value: Any
    confidence: float | None
    chunk: int


def merge(
    answers: list[tuple[dict[str, Any], dict[str, float]]], chunks: list[Chunk]
) -> tuple[dict[str, Any], dict[str, float], list[dict[str, Any]]]:
    """Merge each chunk's ``(content, confidences)``: the content, its confidences (JSON Pointers
    of the merged content) and the conflicts (``{"field", "values": [{"value", "pages",
    "confidence"?}]}``)."""
    trees = [_annotate(content, confidences, "", index) for index, (content, confidences) in enumerate(answers)]
    conflicts: list[dict[str, Any]] = []
    confidences: dict[str, float] = {}
    content = _plain(_merge(trees, "", chunks, conflicts), "", confidences)  # dicts merge into a dict
    return content, confidences, conflicts


def _annotate(value: Any, confidences: dict[str, float], pointer: str, chunk: int) -> Any:
    """The answer with each scalar wrapped in a ``_Leaf`` that knows its confidence and chunk."""
    if isinstance(value, dict):
        return {k: _annotate(v, confidences, f"{pointer}/{escape(str(k))}", chunk) for k, v in value.items()}
    if isinstance(value, list):
        return [_annotate(v, confidences, f"{pointer}/{i}", chunk) for i, v in enumerate(value)]
    return _Leaf(value, confidences.get(pointer), chunk)


def _merge(values: list[Any], pointer: str, chunks: list[Chunk], conflicts: list[dict[str, Any]]) -> Any:
    stated = [v for v in values if not (isinstance(v, _Leaf) and v.value is None)]
    if not stated:
        return values[0]
    if all(isinstance(v, dict) for v in stated):
        keys = list(dict.fromkeys(k for v in stated for k in v))
        return {
            k: _merge([v[k] for v in stated if k in v], f"{pointer}/{escape(str(k))}", chunks, conflicts) for k in keys
        }
    if all(isinstance(v, list) for v in stated):
        items, seen = [], set()
        for value in stated:
            for item in value:
                key = _canonical(item)
                if key not in seen:
                    seen.add(key)
                    items.append(item)
        return items
    chosen = max(stated, key=lambda v: _confidence_of(v) or 0.0)  # the first of equals: the earliest chunk
    if len({_canonical(v) for v in stated}) > 1:
        conflicts.append(
            {
                "field": pointer,
                "values": [
                    {"value": _plain(v, "", {}), "pages": chunks[_chunk_of(v)].wire["pages"]}
                    | ({"confidence": c} if (c := _confidence_of(v)) is not None else {})
                    for v in stated
                ],
            }
        )
        chosen = _doubted(chosen)
    return chosen


def _doubted(value: Any) -> Any:
    """A value chunks disagree on: each of its scalars at most ``CONFLICT_CONFIDENCE``."""
    if isinstance(value, _Leaf):
        return _Leaf(value.value, min(value.confidence or 1.0, CONFLICT_CONFIDENCE), value.chunk)
    if isinstance(value, dict):
        return {k: _doubted(v) for k, v in value.items()}
    return [_doubted(v) for v in value]


def _leaves(value: Any) -> list[_Leaf]:
    if isinstance(value, _Leaf):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [leaf for item in items for leaf in _leaves(item)]


def _confidence_of(value: Any) -> float | None:
    """A value's confidence: a scalar's own, an object's or array's lowest; ``None`` when unknown."""
    known = [leaf.confidence for leaf in _leaves(value) if leaf.confidence is not None]
    return min(known) if known else None


def _chunk_of(value: Any) -> int:
    leaves = _leaves(value)
    return leaves[0].chunk if leaves else 0


def _canonical(value: Any) -> str:
    return json.dumps(_plain(value, "", {}), sort_keys=True, ensure_ascii=False)


def _plain(value: Any, pointer: str, confidences: dict[str, float]) -> Any:
    """The value without its annotations; each stated scalar's confidence in ``confidences``, under
    its pointer in this value."""
    if isinstance(value, _Leaf):
        if value.value is not None and value.confidence is not None:
            confidences[pointer] = value.confidence
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v, f"{pointer}/{escape(str(k))}", confidences) for k, v in value.items()}
    return [_plain(v, f"{pointer}/{i}", confidences) for i, v in enumerate(value)]
