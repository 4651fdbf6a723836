"""Extraction providers: JSON out of a document against a JSON Schema, behind one interface.

``builtin`` (the default) needs nothing and is deterministic; ``openai`` talks to any
OpenAI-compatible endpoint. A deployment picks one (``QUARRY_LLM_PROVIDER``); a function may
pick another with its ``provider`` field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from quarry.config import Settings
from quarry.documents.model import Document
from quarry.expressions import SchemaValidator
from quarry.providers import ProviderError

PROVIDERS = ("builtin", "openai")
__all__ = [
    "PROVIDERS",
    "Choice",
    "Extraction",
    "ExtractionRequest",
    "ONE_BY_ONE",
    "Part",
    "PartReader",
    "Provider",
    "ProviderError",
    "invalid_properties",
    "provider_for",
]


@dataclass(frozen=True)
class Part:
    """One request's worth of a long document: all any process needs to ask a model for it."""

    text: str
    label: str  # what the prompt calls it (", pages 3-4 of 9")
    schema: dict[str, Any]  # the loose schema parts are asked against (``chunks.part_schema``)
    schema_name: str
    input_type: str
    images: tuple[bytes, ...] = ()  # page images (``analyze``): such a part is asked where it was cut

    @property
    def wire(self) -> dict[str, Any]:
        """The part as JSON (a part with images is never handed to another process)."""
        return {
            "text": self.text,
            "label": self.label,
            "schema": self.schema,
            "schema_name": self.schema_name,
            "input_type": self.input_type,
        }


class PartReader(Protocol):
    """How the parts of a long document get asked: ``read(parts, ask)`` returns each part's
    extraction, in order, by calling ``ask`` for each — or, in the engine, by sharing them out
    among the deployment's model slots (``calls.parts``)."""

    def read(self, parts: list[Part], ask: Callable[[Part], Extraction]) -> list[Extraction]: ...


class _OneByOne:
    def read(self, parts: list[Part], ask: Callable[[Part], Extraction]) -> list[Extraction]:
        return [ask(part) for part in parts]


ONE_BY_ONE: PartReader = _OneByOne()
"""Parts asked one after another, here (outside the engine: tests, scripts)."""


@dataclass
class ExtractionRequest:
    document: Document
    schema: dict[str, Any]
    schema_name: str
    function_type: str  # transform | analyze | join
    data: bytes | None = None  # the original file, for providers that look at page images
    pre_count: bool = False  # bem's ``preCount``: a long document in parts half as long (more requests)
    parts: PartReader = ONE_BY_ONE


@dataclass
class Extraction:
    content: dict[str, Any]
    confidences: dict[str, float] = field(default_factory=dict)  # JSON Pointer -> [0, 1]
    chunks: list[dict[str, Any]] = field(default_factory=list)
    """The parts a long document was read in (``{"pages": [first, last]}``); none when read whole."""
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    """Fields the parts disagreed on, with each part's value (``providers.llm.chunks.merge``)."""


@dataclass(frozen=True)
class Choice:
    """A class a document may belong to: a route, or a split's item class."""

    name: str
    description: str | None = None


class Provider(Protocol):
    def extract(self, request: ExtractionRequest) -> Extraction: ...

    def classify(self, document: Document, choices: list[Choice], context: str | None = None) -> str | None:
        """The name of the choice the document belongs to, or None when it fits none."""


def provider_for(name: str | None, settings: Settings) -> Provider:
    name = name or settings.llm_provider
    if name == "builtin":
        from quarry.providers.llm.builtin import BuiltinProvider

        return BuiltinProvider()
    if name == "openai":
        from quarry.providers.llm.openai import OpenAIProvider

        return OpenAIProvider.from_settings(settings)
    raise ProviderError(f"unknown extraction provider {name!r}; this Quarry knows {', '.join(PROVIDERS)}")


MODEL_FUNCTION_TYPES = frozenset({"transform", "analyze", "route", "split", "join", "parse"})


def uses_model(function_type: str, config: dict[str, Any], settings: Settings) -> bool:
    """Whether a function call of this type and configuration may ask a model endpoint (and so
    counts against the deployment's model limits). A parse without entities asks none: its
    structure is read by rules."""
    if function_type == "parse" and (config.get("parseConfig") or {}).get("extractEntities") is False:
        return False
    return function_type in MODEL_FUNCTION_TYPES and (config.get("provider") or settings.llm_provider) != "builtin"


def invalid_properties(content: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Top-level properties that break the schema: missing although required (also through
    ``dependentRequired``), not allowed (``additionalProperties: false``), or with a bad value."""
    bad: set[str] = set()
    for error in SchemaValidator(schema).iter_errors(content):
        if error.path:
            bad.add(str(error.path[0]))
        elif error.validator == "required":
            bad.update(name for name in error.validator_value if name not in content)
        elif error.validator == "dependentRequired":
            bad.update(
                n for key, names in error.validator_value.items() if key in content for n in names if n not in content
            )
        elif error.validator in ("additionalProperties", "unevaluatedProperties"):
            allowed = set(schema.get("properties") or {})
            bad.update(name for name in content if name not in allowed)
    return sorted(bad)
