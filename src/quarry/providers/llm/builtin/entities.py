"""Entities of a parsed document and where it mentions them.

Without a model, the entities are what the builtin extractor's vocabulary names among the
document's labelled values — identifiers (``Invoice Number``), parties (``Bill To``), addresses and
contact details — and the issuer its letterhead names; each is typed by its concept
(``invoice_number``, ``customer``…). A model's entities come in the same shape
(``providers.llm.discovery``). Either way an entity's occurrences are found in the sections'
text, with the region of the words where the reader knows where they stand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from quarry.documents.model import Word
from quarry.providers.llm.builtin.inference import letterhead, property_name
from quarry.providers.llm.builtin.structure import Structure, region, rule_cells
from quarry.providers.llm.builtin.vocabulary import concept_for

ENTITY_KINDS = frozenset({"identifier", "party"})
ENTITY_CONCEPTS = frozenset({"address", "email", "phone", "carrier", "port_of_loading", "port_of_discharge"})
MAX_OCCURRENCES = 100  # per entity
_EDGES = ".,;:()[]{}\"'«»“”<>"


@dataclass
class Entity:
    name: str
    type: str
    mentions: list[str] = field(default_factory=list)  # other ways the document writes it


def canonical(name: str) -> str:
    return " ".join(name.split()).casefold()


def labelled_entities(structure: Structure) -> list[Entity]:
    """The issuer of the letterhead, then the labelled values of entity concepts, each name once."""
    entities: list[Entity] = []
    issuer = letterhead(rule_cells([line for section in structure.sections for line in section.lines]))
    if issuer:
        entities.append(Entity(issuer, "issuer"))
    for pair in structure.pairs:
        concept = concept_for(property_name(pair.key) or "", pair.key, in_table=False)
        if concept is not None and (concept.kind in ENTITY_KINDS or concept.name in ENTITY_CONCEPTS):
            entities.append(Entity(pair.value.strip(), concept.name))
    return unique(entities)


def unique(entities: list[Entity]) -> list[Entity]:
    """The first entity of each canonical name, with the mentions of the others."""
    by_name: dict[str, Entity] = {}
    for entity in entities:
        key = canonical(entity.name)
        if not key:
            continue
        if key in by_name:
            by_name[key].mentions += [m for m in entity.mentions if m not in by_name[key].mentions]
        else:
            by_name[key] = entity
    return list(by_name.values())


def rendered(structure: Structure, entities: list[Entity]) -> tuple[list[dict[str, Any]], dict[str, list[dict]]]:
    """The entities as JSON with their occurrences (``{section, page, text}`` in reading order),
    and the regions of the occurrences by JSON Pointer (``/entities/N/occurrences/M``)."""
    out, boxes = [], {}
    for n, entity in enumerate(entities):
        occurrences: list[dict[str, Any]] = []
        for index, section in enumerate(structure.sections):
            page = section.lines[0].page
            for text, words in _places(
                section.text, _needles(entity), [w for line in section.lines for w in line.words]
            ):
                if len(occurrences) >= MAX_OCCURRENCES:
                    break
                if words and page is not None and page.width > 0 and page.height > 0:
                    boxes[f"/entities/{n}/occurrences/{len(occurrences)}"] = [region(page, words) | {"text": text}]
                occurrences.append({"section": index, "page": section.page, "text": text})
        out.append({"name": entity.name, "type": entity.type, "occurrences": occurrences})
    return out, boxes


def _needles(entity: Entity) -> list[str]:
    """The names to look for, each once, longest first: a mention inside a longer one is not counted again."""
    names = {canonical(name): " ".join(name.split()) for name in [entity.name, *entity.mentions] if name.strip()}
    return sorted(names.values(), key=len, reverse=True)


def _places(text: str, needles: list[str], words: list[Word]) -> list[tuple[str, list[Word] | None]]:
    """Each place a needle is written in ``text`` (case and spacing aside, on word edges), in
    order, with its words where the section has geometry (the k-th run of words that spell the
    needle for its k-th place)."""
    text = " ".join(text.split())
    taken: list[tuple[int, int, str, list[Word] | None]] = []
    for needle in needles:
        pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, needle.split())) + r"(?!\w)", re.IGNORECASE)
        runs = _word_runs(words, needle) if words else []
        for k, match in enumerate(pattern.finditer(text)):
            if any(match.start() < end and start < match.end() for start, end, _, _ in taken):
                continue
            taken.append((match.start(), match.end(), match.group(0), runs[k] if k < len(runs) else None))
    return [(found, where) for _, _, found, where in sorted(taken, key=lambda place: place[0])]


def _word_runs(words: list[Word], needle: str) -> list[list[Word]]:
    wanted = [token.strip(_EDGES).casefold() for token in needle.split()]
    tokens = [word.text.strip(_EDGES).casefold() for word in words]
    return [
        words[start : start + len(wanted)]
        for start in range(len(words) - len(wanted) + 1)
        if tokens[start : start + len(wanted)] == wanted
    ]
