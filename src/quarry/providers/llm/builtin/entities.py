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
MAX_NAME_CHARS = 200
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
        key = pair.key[:MAX_NAME_CHARS]
        concept = concept_for(property_name(key) or "", key, in_table=False)
        if concept is not None and (concept.kind in ENTITY_KINDS or concept.name in ENTITY_CONCEPTS):
            entities.append(Entity(pair.value.strip(), concept.name))
    return unique(entities)


def unique(entities: list[Entity]) -> list[Entity]:
    """The first entity of each canonical name, with the mentions of the others; no empty name, and
    none longer than ``MAX_NAME_CHARS`` (a name, not a paragraph)."""
    by_name: dict[str, Entity] = {}
    for entity in entities:
        key = canonical(entity.name)
        if not key or len(key) > MAX_NAME_CHARS:
            continue
        if key in by_name:
            by_name[key].mentions += [m for m in entity.mentions if m not in by_name[key].mentions]
        else:
            by_name[key] = entity
    return list(by_name.values())


def rendered(structure: Structure, entities: list[Entity]) -> tuple[list[dict[str, Any]], dict[str, list[dict]]]:
    """The entities as JSON with their occurrences (``{section, page, text}`` in reading order),
    and the regions of the occurrences by JSON Pointer (``/entities/N/occurrences/M``)."""
    texts = [" ".join(section.text.split()) for section in structure.sections]
    folded = [text.casefold() for text in texts]  # a needle not in here is not looked for with a pattern
    words = [[w for line in section.lines for w in line.words] for section in structure.sections]
    out, boxes = [], {}
    for n, entity in enumerate(entities):
        needles = [(needle, canonical(needle), _pattern(needle)) for needle in _needles(entity)]
        occurrences: list[dict[str, Any]] = []
        for index, section in enumerate(structure.sections):
            present = [(needle, pattern) for needle, key, pattern in needles if key in folded[index]]
            page = section.lines[0].page
            room = MAX_OCCURRENCES - len(occurrences)
            for text, where in _places(texts[index], present, words[index], room) if present and room else []:
                if where and page is not None and page.width > 0 and page.height > 0:
                    boxes[f"/entities/{n}/occurrences/{len(occurrences)}"] = [region(page, where) | {"text": text}]
                occurrences.append({"section": index, "page": section.page, "text": text})
        out.append({"name": entity.name, "type": entity.type, "occurrences": occurrences})
    return out, boxes


def _needles(entity: Entity) -> list[str]:
    """The names to look for, each once, longest first: a mention inside a longer one is not counted again."""
    names = {canonical(name): " ".join(name.split()) for name in [entity.name, *entity.mentions] if name.strip()}
    return sorted(names.values(), key=len, reverse=True)


def _pattern(needle: str) -> re.Pattern[str]:
    """The needle's words, case and spacing aside, up to a word's end (its start is checked by
    ``_places``: a pattern that opens with a look-behind is three times slower to search)."""
    return re.compile(r"\s+".join(map(re.escape, needle.split())) + r"(?!\w)", re.IGNORECASE)


def _places(
    text: str, needles: list[tuple[str, re.Pattern[str]]], words: list[Word], limit: int
) -> list[tuple[str, list[Word] | None]]:
    """The first ``limit`` places a needle is written in ``text``, in order, with its words where
    the section has geometry (the k-th run of words that spell the needle for its k-th place)."""
    taken: list[tuple[int, int, str, list[Word] | None]] = []
    for needle, pattern in needles:
        runs = _word_runs(words, needle) if words else []
        earlier = list(taken)  # a needle's own places never overlap: only the longer needles' are checked
        k = 0  # the needle's places so far, on word edges
        for match in pattern.finditer(text):
            if len(taken) >= limit * len(needles):
                break
            at = match.start()
            if at and (text[at - 1].isalnum() or text[at - 1] == "_"):
                continue  # inside a word
            k += 1
            if not any(at < end and start < match.end() for start, end, _, _ in earlier):
                taken.append((at, match.end(), match.group(0), runs[k - 1] if k <= len(runs) else None))
    return [(found, where) for _, _, found, where in sorted(taken, key=lambda place: place[0])[:limit]]


def _word_runs(words: list[Word], needle: str) -> list[list[Word]]:
    wanted = [token.strip(_EDGES).casefold() for token in needle.split()]
    tokens = [word.text.strip(_EDGES).casefold() for word in words]
    return [
        words[start : start + len(wanted)]
        for start in range(len(words) - len(wanted) + 1)
        if tokens[start : start + len(wanted)] == wanted
    ]
