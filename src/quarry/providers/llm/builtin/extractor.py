"""Schema-guided extraction without a model.

For each property of the output schema: find where the document labels it (``Invoice No.:``,
a column header, an email header, a JSON key), take the value beside or below the label, and
parse it by the property's type. Arrays of objects are filled from tables (real ones, or lines
that line up under a header). Every value comes with a confidence in [0, 1] that says how it
was found: a label's own cell beats the next cell, which beats the line below, which beats a
guess from layout alone.

``Extractor`` here walks the schema and coordinates; each concept is read in a module of its own:
``reader`` (labels, and the values beside or below them), ``schema`` (the schema made plain), ``scalars``
(single values and totals), ``parties`` (issuer, letterhead), ``tables`` (line items) and ``einvoices``
(what an e-invoice states), with ``labels`` and ``names`` as small checks they share.
"""

from __future__ import annotations

from typing import Any

from quarry.documents.model import Document
from quarry.pointers import escape
from quarry.providers.llm.builtin.einvoices import EInvoiceMixin, einvoice_of
from quarry.providers.llm.builtin.parties import PartiesMixin
from quarry.providers.llm.builtin.reader import GENERIC_KEY_WORDS, Reader
from quarry.providers.llm.builtin.scalars import ScalarsMixin
from quarry.providers.llm.builtin.schema import MAX_SCHEMA_DEPTH, plain_schema, schema_type
from quarry.providers.llm.builtin.tables import TablesMixin
from quarry.providers.llm.builtin.vocabulary import Concept, concept_for, words


class Extractor(ScalarsMixin, PartiesMixin, TablesMixin, EInvoiceMixin):
    """One document against one schema: the properties walked here, each read by the concept's mixin."""

    def __init__(self, document: Document, root: Any = None) -> None:
        self.root = root  # the whole schema, where local references point
        self.reader = Reader(document)
        self.confidences: dict[str, float] = {}
        self.currency_hint: str | None = None
        self.names: set[str] = set()  # people and companies found so far: not part of an address
        self.einvoice = einvoice_of(document)
        if self.einvoice is not None:
            self.currency_hint = self.einvoice.currency

    def properties(self, schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The object schema's properties, each made plain; those no value can satisfy left out."""
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        plain = {name: plain_schema(spec, self.root) for name, spec in properties.items()}
        return {name: spec for name, spec in plain.items() if spec is not None}

    def object(self, schema: dict[str, Any], pointer: str = "", depth: int = 0, owner: str = "") -> dict[str, Any]:
        """The object's properties; ``owner`` is the property holding the object (``vendor``), whose words
        say what its generic properties are about (``name`` of a vendor is the issuer)."""
        content: dict[str, Any] = {}
        properties = self.properties(schema)
        # Amounts first: the currency they are written in is the best hint for a currency property.
        order = sorted(properties, key=lambda name: schema_type(properties[name]) not in ("number", "integer"))
        for name in order:
            qualified = _qualified(owner, name, properties[name])
            value = self.property(qualified, properties[name], f"{pointer}/{escape(name)}", depth)
            if value is not None:
                content[name] = value
        return {name: content[name] for name in properties if name in content}

    def property(self, name: str, spec: dict[str, Any], pointer: str, depth: int = 0) -> Any:
        kind = schema_type(spec)
        if kind == "object":
            nested = self.object(spec, pointer, depth + 1, owner=name) if depth < MAX_SCHEMA_DEPTH else {}
            return nested or None
        if kind == "array":
            items = plain_schema(spec.get("items", True), self.root)
            if items is None:
                return None  # "items": false — only an empty array is valid
            if schema_type(items) == "object":
                return self.rows(name, spec, items, pointer)
            return self.list(name, spec, items, pointer)
        found = self.scalar(name, spec, kind)
        if found is None or found.value is None:
            return None  # no value, no confidence
        self.confidences[pointer] = round(found.confidence, 3)
        return found.value

    def _concept(self, name: str, spec: dict[str, Any], *, in_table: bool = False) -> Concept | None:
        return concept_for(name, spec.get("title"), in_table=in_table)

    def _labels(self, name: str, spec: dict[str, Any], concept: Concept | None) -> tuple[str, ...]:
        own = tuple(" ".join(words(text)) for text in (name, spec.get("title") or "") if words(text))
        return tuple(dict.fromkeys(own + (concept.labels if concept else ())))


def _qualified(owner: str, name: str, spec: dict[str, Any]) -> str:
    """``vendor name`` for the ``name`` of a ``vendor`` object: a property whose own words are generic
    (or name no concept) is read as its owner's; one with a meaning of its own (``vendor.address``,
    ``vendor.vatId``) keeps it."""
    if not owner:
        return name
    own = set(words(name)) | set(words(spec.get("title") or ""))
    if own <= GENERIC_KEY_WORDS or concept_for(name, spec.get("title"), in_table=False) is None:
        return f"{owner} {name}"
    return name


def extract(document: Document, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Values for the schema's properties found in ``document``, and a confidence per JSON Pointer."""
    extractor = Extractor(document, schema)
    root = plain_schema(schema, schema)
    content = extractor.object(root) if root else {}
    return content, extractor.confidences
