"""The builtin provider: schema-guided extraction without a model — offline and deterministic."""

from __future__ import annotations

from quarry.providers.llm import Extraction, ExtractionRequest
from quarry.providers.llm.builtin.extractor import extract


class BuiltinProvider:
    def extract(self, request: ExtractionRequest) -> Extraction:
        content, confidences = extract(request.document, request.schema)
        return Extraction(content, confidences)
