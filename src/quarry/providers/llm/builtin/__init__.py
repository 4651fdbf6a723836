"""The builtin provider: schema-guided extraction and word-overlap classification, without a model —
offline and deterministic."""

from __future__ import annotations

import re

from quarry.documents.model import Document
from quarry.providers.llm import Choice, Extraction, ExtractionRequest
from quarry.providers.llm.builtin.extractor import extract
from quarry.providers.llm.builtin.values import fold

_WORD = re.compile(r"[^\W\d_]{3,}")
_STOPWORDS = frozenset(
    "the and for with from this that are was were has have not you your our all any per via into onto "
    "der die das und mit von für des les une pour avec".split()
)


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in _WORD.findall(fold(text))} - _STOPWORDS


class BuiltinProvider:
    def extract(self, request: ExtractionRequest) -> Extraction:
        content, confidences = extract(request.document, request.schema)
        return Extraction(content, confidences)

    def classify(self, document: Document, choices: list[Choice], context: str | None = None) -> str | None:
        """The choice whose name and description share the most words with the document (plural
        ``s`` ignored); the first of equals; None when none shares a word."""
        words = _words(document.text)
        best: tuple[int, int] | None = None
        for position, choice in enumerate(choices):
            score = len(words & _words(f"{choice.name} {choice.description or ''}"))
            if score and (best is None or score > best[0]):
                best = (score, position)
        return choices[best[1]].name if best else None
