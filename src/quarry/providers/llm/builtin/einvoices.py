"""The e-invoice mapping: what an e-invoice in the document (or attached to it) states, taken as it is written
for the properties whose concepts it covers (number, dates, parties, currency, totals), and its lines for the
line items.

Mixed into ``Extractor``. Separate because a value an e-invoice states is exact and is not read from the page:
it is the first answer, and the page is read only for what the record lacks.
"""

from __future__ import annotations

from typing import Any

from quarry.documents.einvoice import EInvoice
from quarry.documents.model import Document
from quarry.pointers import escape
from quarry.providers.llm.builtin.schema import is_date, schema_type
from quarry.providers.llm.builtin.values import fold
from quarry.providers.llm.builtin.vocabulary import Concept, words

STRUCTURED_CONFIDENCE = 0.99  # a value an e-invoice states: exact, unless the invoice itself is wrong
# concept -> the e-invoice's field for it
_EINVOICE_FIELDS = {
    "invoice_number": "invoice_number",
    "invoice_date": "issue_date",
    "due_date": "due_date",
    "currency": "currency",
    "issuer": "seller_name",
    "vat_id": "seller_vat_id",
    "customer": "buyer_name",
    "subtotal": "net_total",
    "tax": "tax_total",
    "total": "grand_total",
}
_LINE_FIELDS = {
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "line_amount": "amount",
}

_DUE_WORDS = frozenset({"due", "payable", "balance", "outstanding"})


def einvoice_of(document: Document) -> EInvoice | None:
    """The document's own e-invoice, else the first its attachments carry (an email with a Factur-X PDF)."""
    if document.einvoice is not None:
        return document.einvoice
    attached = (einvoice_of(a.document) for a in document.attachments if a.document is not None)
    return next((record for record in attached if record is not None), None)


class EInvoiceMixin:
    """The ``Extractor``'s values from its ``einvoice``; they use its ``parse``, ``_concept``, ``names`` and
    ``confidences``."""

    def _stated(self, name: str, spec: dict[str, Any], concept: Concept | None) -> str | None:
        """What the e-invoice states for the property's concept: the amount due for a total that says
        it is due (``amountDue``, ``balancePayable``), the grand total for any other."""
        if self.einvoice is None or concept is None or concept.name not in _EINVOICE_FIELDS:
            return None
        if concept.name == "total" and _DUE_WORDS & {*words(name), *words(spec.get("title") or "")}:
            return self.einvoice.amount_due or self.einvoice.grand_total
        return getattr(self.einvoice, _EINVOICE_FIELDS[concept.name])

    def _exact(self, raw: str, spec: dict[str, Any], kind: str | None, concept: Concept | None) -> Any:
        """A value an e-invoice states, as the property's type: its decimals and names as written."""
        if kind in ("number", "integer"):
            try:
                number = float(raw)
            except ValueError:
                return None
            if kind == "integer":
                return int(number) if number.is_integer() else None
            return number
        if kind not in (None, "string"):
            return None
        if "enum" in spec or is_date(spec, concept) or (concept is not None and concept.kind == "currency"):
            return self.parse(raw, spec, kind, concept)
        if concept is not None and concept.kind == "party":
            self.names.add(fold(raw))
        return raw

    def _stated_rows(self, properties: dict[str, dict], pointer: str) -> list[dict[str, Any]] | None:
        """The e-invoice's lines, when the items have properties for what a line states."""
        if self.einvoice is None or not self.einvoice.lines:
            return None
        columns = {}
        for name, spec in properties.items():
            concept = self._concept(name, spec, in_table=True)
            if concept is not None and concept.name in _LINE_FIELDS:
                columns[name] = (_LINE_FIELDS[concept.name], spec, concept)
        if not columns:
            return None
        records = []
        for index, line in enumerate(self.einvoice.lines):
            record = {}
            for name, (attribute, spec, concept) in columns.items():
                raw = getattr(line, attribute)
                value = self._exact(raw, spec, schema_type(spec), concept) if raw else None
                if value is not None:
                    record[name] = value
                    self.confidences[f"{pointer}/{index}/{escape(name)}"] = STRUCTURED_CONFIDENCE
            records.append(record)
        return records
