"""parse: a document's structure — sections in reading order, tables, key-value pairs, entities
with their occurrences and the relationships between them, and the document as Markdown.

One parse event per input item (as transform). The structure is the builtin reader's whatever
the provider; the entities are a model's when the function's provider is one, else those the
builtin vocabulary names among the labelled values (no relationships then).
``parseConfig.extractEntities: false`` leaves entities and relationships empty, without asking a
model. The output goes on to the next function, which reads it as the document it describes
(``RunInput.json_document``).
"""

from __future__ import annotations

from typing import Any

from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.engine.runners.transform import input_items
from quarry.ids import new_id
from quarry.providers.llm import ProviderError, provider_for
from quarry.providers.llm.builtin.entities import labelled_entities, rendered
from quarry.providers.llm.builtin.structure import read_structure
from quarry.providers.llm.discovery import discover
from quarry.providers.llm.openai import OpenAIProvider


def run(run_input: RunInput) -> list[Emission]:
    config = run_input.config
    with_entities = (config.get("parseConfig") or {}).get("extractEntities") is not False
    with_boxes = bool((config.get("extraConfig") or {}).get("enableBoundingBoxes"))
    try:
        provider = provider_for(config.get("provider"), run_input.settings) if with_entities else None
    except ProviderError as exc:
        raise FunctionError(str(exc)) from None
    emissions = []
    for item in input_items(run_input):
        structure = read_structure(item.document)
        content: dict[str, Any] = structure.content()
        entities, relationships = [], []
        if isinstance(provider, OpenAIProvider):
            try:
                entities, relationships = discover(provider, content["markdown"], item.document.input_type)
            except ProviderError as exc:
                raise FunctionError(str(exc)) from None
        elif provider is not None:
            entities = labelled_entities(structure)
        content["entities"], boxes = rendered(structure, entities)
        content["relationships"] = relationships
        body: dict[str, Any] = {
            "transformationID": new_id("tr"),
            "transformedContent": content,
            "itemOffset": item.offset,
            "itemCount": item.count,
        }
        if with_boxes:
            sections = {
                f"/sections/{n}": [box | {"text": section.text}]
                for n, section in enumerate(structure.sections)
                if (box := section.box())
            }
            body["fieldBoundingBoxes"] = sections | boxes
        if item.file is not None:
            body |= {"inputType": item.file.input_type, "s3BlobKey": item.file.blob_key}
        emissions.append(Emission("parse", body, output=content))
    return emissions
