"""Extraction providers: JSON out of a document against a JSON Schema, behind one interface.

``builtin`` (the default) needs nothing and is deterministic; ``openai`` talks to any
OpenAI-compatible endpoint. A deployment picks one (``QUARRY_LLM_PROVIDER``); a function may
pick another with its ``provider`` field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from quarry.config import Settings
from quarry.documents.model import Document

PROVIDERS = ("builtin", "openai")


class ProviderError(Exception):
    """The provider cannot produce an answer (misconfigured, unreachable, refused): the call fails with this."""


@dataclass
class ExtractionRequest:
    document: Document
    schema: dict[str, Any]
    schema_name: str
    function_type: str  # transform | analyze | join
    data: bytes | None = None  # the original file, for providers that look at page images


@dataclass
class Extraction:
    content: dict[str, Any]
    confidences: dict[str, float] = field(default_factory=dict)  # JSON Pointer -> [0, 1]


class Provider(Protocol):
    def extract(self, request: ExtractionRequest) -> Extraction: ...


def provider_for(name: str | None, settings: Settings) -> Provider:
    name = name or settings.llm_provider
    if name == "builtin":
        from quarry.providers.llm.builtin import BuiltinProvider

        return BuiltinProvider()
    if name == "openai":
        from quarry.providers.llm.openai import OpenAIProvider

        return OpenAIProvider.from_settings(settings)
    raise ProviderError(f"unknown extraction provider {name!r}; this Quarry knows {', '.join(PROVIDERS)}")
