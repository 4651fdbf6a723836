"""A model's reading of a document's entities and the relationships between them, for parse
functions: one request with a strict JSON schema, the document as Markdown (cut to what the
model's context holds)."""

from __future__ import annotations

from typing import Any

from quarry.providers import ProviderError
from quarry.providers.llm.builtin.entities import Entity, canonical, unique
from quarry.providers.llm.chunks import BYTES_PER_TOKEN, estimate_tokens
from quarry.providers.llm.openai import ANSWER_TOKENS, MIN_DOCUMENT_TOKENS, PROMPT_TOKENS, OpenAIProvider

PROMPT = (
    "You read documents for their named entities: people, organizations, products, places, identifiers, studies "
    "and the like, each once under its canonical name, with its type in a word or two (person, organization, "
    "invoice_number…) and every other form in which the document writes it (mentions, as written). Then the "
    "relationships the document states between them (source and target are entity names; type says how they "
    "relate, e.g. issued_by, employs). Use only what the document states."
)
_TEXT = {"type": "string"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "entities": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": _TEXT, "type": _TEXT, "mentions": {"type": "array", "items": _TEXT}},
                "required": ["name", "type", "mentions"],
                "additionalProperties": False,
            },
        },
        "relationships": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"source": _TEXT, "target": _TEXT, "type": _TEXT},
                "required": ["source", "target", "type"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["entities", "relationships"],
    "additionalProperties": False,
}


def discover(provider: OpenAIProvider, markdown: str, input_type: str) -> tuple[list[Entity], list[dict[str, str]]]:
    """The entities the model names (each name once) and the relationships between two of them."""
    budget = provider.context_tokens - estimate_tokens(PROMPT) - PROMPT_TOKENS
    budget -= min(ANSWER_TOKENS, provider.context_tokens // 4)
    if budget < MIN_DOCUMENT_TOKENS:
        raise ProviderError(f"the model's context of {provider.context_tokens} tokens leaves no room for the document")
    text = markdown.encode()[: budget * BYTES_PER_TOKEN].decode(errors="ignore")
    messages = [
        {"role": "system", "content": PROMPT},
        {"role": "user", "content": f"Document ({input_type}):\n{text}"},
    ]
    answer = provider.ask_json(messages, "entities", SCHEMA)
    if answer is None:
        raise ProviderError("the model's answer is not the JSON object asked for")
    entities = unique(
        [
            Entity(item["name"], item["type"], [m for m in item.get("mentions") or [] if isinstance(m, str)])
            for item in answer.get("entities") or []
            if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("type"), str)
        ]
    )
    names = {canonical(entity.name): entity.name for entity in entities}
    relationships = [
        {"source": names[canonical(item["source"])], "target": names[canonical(item["target"])], "type": item["type"]}
        for item in answer.get("relationships") or []
        if isinstance(item, dict)
        and all(isinstance(item.get(key), str) for key in ("source", "target", "type"))
        and canonical(item["source"]) in names
        and canonical(item["target"]) in names
    ]
    return entities, relationships
