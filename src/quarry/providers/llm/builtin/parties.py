"""The parties: who issued the document (a labelled seller with a legal form, the company in the letterhead
above the customer's block, a labelled seller without one, an email's sender, the first line that is a name),
and the names in an email's ``From``/``To`` headers.

Mixed into ``Extractor``. Separate because the issuer is rarely labelled: it is found by layout, and by what a
company's name looks like (``names``).
"""

from __future__ import annotations

import re

from quarry.providers.llm.builtin.names import COMPANY_SUFFIX, LEGAL_FORM_ONLY, name_like, party_name
from quarry.providers.llm.builtin.reader import Found
from quarry.providers.llm.builtin.values import fold
from quarry.providers.llm.builtin.vocabulary import Concept

_DOCUMENT_TITLE = re.compile(
    r"\b(tax invoice|invoice|receipt|payment receipt|order confirmation|order|bill of lading|rechnung|quittung|"
    r"facture|factura|fattura|statement|bill|delivery note|packing list)\b"
)

_CUSTOMER_LABELS = (
    "bill to",
    "billed to",
    "invoice to",
    "sold to",
    "ship to",
    "customer",
    "kaufer",
    "kunde",
    "rechnungsempfanger",
    "leistungsempfanger",
    "client",
    "facture a",
    "adresse de livraison",
)


class PartiesMixin:
    """The ``Extractor``'s issuer, letterhead and email header names, read with its ``reader``; a labelled
    seller is parsed by its ``_first_parsed``."""

    def _header_name(self, header: str) -> str | None:
        """The display name of an email's ``From``/``To`` header (``Ann Lee <ann@x.org>`` -> Ann Lee)."""
        for key, value in self.reader.document.all_fields:
            if key == header:
                display = re.sub(r"<[^>]*>", "", value.split(",")[0]).strip().strip('"')
                if display and "@" not in display:
                    return display
        return None

    def _issuer(self, labelled, spec: dict, kind: str | None, concept: Concept) -> Found | None:
        """Who issued the document. A labelled seller (``Verkäufer:``, ``Sold by``) whose value is a company
        (it has a legal form) is surest; then a company in the letterhead above the customer's block; then a
        labelled seller without a legal form; then an email's sender or the first line that is a name.
        A table label, a registration number or a line item is never a name (``name_like``)."""
        named = None
        for _, occurrences in labelled:
            found = [f for options in occurrences if (f := self._first_parsed(options, spec, kind, concept))]
            if found:
                named = found[0]
                break
        if named is not None and COMPANY_SUFFIX.search(named.value):
            return Found(named.value, 0.9)
        letterhead = self._company_in_header()
        if letterhead is not None:
            return letterhead
        if named is not None:
            return Found(named.value, 0.7)
        return self._letterhead()

    def _company_in_header(self) -> Found | None:
        """The first name with a legal form (GmbH, Ltd, Sdn Bhd, S/B…) in the document's first lines, up to
        where the customer's block begins: a receipt's or an invoice's letterhead."""
        head = list(zip(self.reader.lines[:15], self.reader.folded[:15]))
        for index, (line, folded) in enumerate(head):
            if any(self.reader.pattern(label).search(cell) for label in _CUSTOMER_LABELS for cell in folded):
                return None
            for cell in line:
                text = cell.text.strip()
                form = COMPANY_SUFFIX.search(text)
                if not form:
                    continue
                # One name on two lines: "POPULAR BOOK" over "CO. (M) SDN BHD", "THE COFFEE BEAN" over
                # "& TEA LEAF SDN BHD", "SINNATHAMBY HOLDINGS" over "SDN. BHD.".
                previous = head[index - 1][0] if index else []
                before = re.findall(r"[^\W\d_]{3,}", text[: form.start()])
                if len(previous) == 1 and (len(before) <= 1 or text.startswith("&")) and name_like(previous[0].text):
                    text = f"{previous[0].text.strip()} {text}"
                following = head[index + 1][0] if index + 1 < len(head) else []
                if len(following) == 1 and LEGAL_FORM_ONLY.fullmatch(following[0].text):
                    text = f"{text} {following[0].text.strip()}"
                if len(text) < 80 and ":" not in text and (name := party_name(text)) and name_like(name):
                    return Found(name, 0.85)
        return None

    def _letterhead(self) -> Found | None:
        """The sender of an email, else a company name near the top, else the first line that is a name."""
        sender = self._header_name("From")
        if sender:
            return Found(sender, 0.6)
        head = [line[0].text for line in self.reader.lines[:12]]
        for text in head:
            if ":" in text or re.search(r"\d", text) or not re.search(r"[^\W\d_]{2}", text):
                continue
            title = _DOCUMENT_TITLE.search(fold(text))
            name = text[: title.start()].strip() if title else text
            if name and len(name.split()) <= 6 and (party := party_name(name)):
                return Found(party, 0.4 if title else 0.3)
        return None
