"""Scalars and totals: a property's value found under its labels and parsed by its type (numbers, dates,
identifiers, currencies, enums, names, addresses), the total chosen among the figures a document prints and
confirmed by those that add up to it, what the layout alone suggests when nothing is labelled, and arrays of
plain values.

Mixed into ``Extractor``. Separate because it is how one value is read; objects, tables and e-invoices are
read elsewhere and parse their values with ``parse``.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from quarry.documents.layout import cells_of_text
from quarry.providers.llm.builtin.einvoices import STRUCTURED_CONFIDENCE
from quarry.providers.llm.builtin.labels import is_label
from quarry.providers.llm.builtin.names import name_like, party_name
from quarry.providers.llm.builtin.reader import Found
from quarry.providers.llm.builtin.schema import is_date, schema_type
from quarry.providers.llm.builtin.values import best_amount, currency_in, fold, numbers_in, parse_bool, parse_date
from quarry.providers.llm.builtin.vocabulary import CONCEPTS, Concept, words

# Figures a total is checked against (the amounts that add up to it), by what they are.
_CONFIRMING_LABELS = {
    "subtotal": (
        "subtotal",
        "sub total",
        "net total",
        "total net",
        "total excl",
        "total excluding",
        "net amount",
        "total sales excluding",
        "total ht",
        "zwischensumme",
        "nettobetrag",
        "summe netto",
        "net",
    ),
    "tax": ("total tax", "tax amount", "total gst", "gst", "vat", "tax", "mwst", "ust", "tva", "steuerbetrag"),
    "paid": (
        "cash",
        "tendered",
        "amount tendered",
        "paid",
        "payment",
        "credit",
        "card",
        "visa",
        "mastercard",
        "bar",
        "gegeben",
        "especes",
    ),
    "change": ("change", "change due", "ruckgeld", "wechselgeld", "rendu"),
    "rounding": ("rounding", "rounding adj", "rounding adjustment", "round off", "rundung", "arrondi"),
}


def _rivals(concept: Concept | None) -> tuple[str, ...]:
    """Labels that contain one of this concept's labels but mean something else."""
    if concept is None:
        return ()
    others = tuple(label for other in CONCEPTS if other is not concept for label in other.labels)
    return concept.negative + others


def _mode(kind: str | None, concept: Concept | None, spec: dict[str, Any]) -> str:
    if kind in ("number", "integer"):
        return "total" if concept is not None and concept.kind == "quantity" else "figure"
    if concept is not None and concept.kind == "address":
        return "block"
    if concept is not None and concept.kind == "party":
        return "party"
    return "date" if kind in (None, "string") and is_date(spec, concept) else "inline"


def _names_only(concept: Concept, name: str, spec: dict[str, Any]) -> bool:
    """Whether the property's name (or title) says nothing the concept does not: ``invoiceDate``,
    ``date``, ``dateOfIssue`` are the invoice date; ``birthDate``, ``endDate`` only share its word."""
    vocabulary = {w for key in concept.keys for w in key} | {w for label in concept.labels for w in words(label)}
    vocabulary |= {"of", "the", "on"}
    return any(set(words(text)) <= vocabulary for text in (name, spec.get("title") or "") if words(text))


_TIME = re.compile(r"(?<![\d:])([01]?\d|2[0-3])[:h]([0-5]\d)(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d:])", re.I)


def _date_time(date: str, raw: str) -> str:
    """A ``format: date-time`` value (RFC 3339, which requires an offset): the date, at the time printed
    after it in the same value if there is one, else at midnight; in UTC (``Z``), as documents rarely
    state their offset."""
    hour = minute = second = 0
    after = raw[raw.find(date[:4]) :] if date[:4] in raw else raw
    match = _TIME.search(after)
    if match:
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
        meridiem = (match.group(4) or "").lower().replace(".", "")
        if meridiem == "pm" and hour < 12:
            hour += 12
        elif meridiem == "am" and hour == 12:
            hour = 0
    return f"{date}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _first_number(raw: str) -> tuple[float, str | None] | None:
    found = numbers_in(raw)
    return (found[0][0], found[0][3]) if found else None


def _identifier(raw: str, concept: Concept) -> str | None:
    if concept.shape:
        match = re.search(concept.shape, raw)
        return match.group(0) if match else None
    tokens = [t.strip(":#,;()[].") for t in cells_of_text(raw)[0].text.split()] if raw.strip() else []
    tokens = [t for t in tokens if t]
    codes = [t for t in tokens if re.search(r"\d", t) or re.fullmatch(r"[A-Z]+(?:[-_/][A-Z0-9]+)+", t)]
    return codes[0].lstrip("#") if codes else None  # an identifier has a digit, or is a code like PP-INK-BLK


# A document's title and its number: "Rechnung Nr. 4711", "Facture FA-2017-0010", "Invoice # 42". The title may
# end a compound ("Handelsrechnung", "Schlussrechnung"); the number has a digit and starts the code.
_TITLED_NUMBER = re.compile(
    r"(?i:\b\w*(?:rechnung|invoice|facture|factura|fattura|fatura|faktura|gutschrift|avoir|credit note|nota fiscal|"
    r"quittung|receipt|beleg|bon))"
    r"\s*(?i:nr\.?|no\.?|n\.?[°º]|n\.|#|number|nummer|numero|número|num\.?|núm\.?)?\s*[:.]?\s*"
    r"(?!(?i:vom|from|du|del|of|dated|date)\b)([A-Z0-9][A-Za-z0-9\-/._]*)"
)

ENUM_SYNONYMS = {
    "cash": "bar barzahlung bargeld especes efectivo contanti contant",
    "card": "karte ec girocard visa mastercard amex maestro debit credit kreditkarte carte cb tarjeta contactless "
    "kontaktlos",
}


def _option_words(option: Any) -> list[str]:
    word = fold(str(option))
    return [word, *ENUM_SYNONYMS.get(word, "").split()]


def _enum(raw: str, options: list[Any], *, other_allowed: bool = True) -> Any:
    """The option a value names: exactly, as a word in it, or by a synonym (``Visa`` is a card)."""
    folded = fold(raw)
    for option in options:
        if fold(str(option)) == folded.strip():
            return option
    for option in options:
        if any(re.search(rf"\b{re.escape(word)}\b", folded) for word in _option_words(option)):
            return option
    others = [o for o in options if fold(str(o)) in ("other", "others", "unknown")]
    return others[0] if others and folded and other_allowed else None


class ScalarsMixin:
    """The ``Extractor``'s single values, read with its ``reader`` (noting ``currency_hint`` and ``names`` as it
    goes); it asks the e-invoice first (``_stated``, ``_exact``) and leaves the issuer to the parties."""

    def scalar(self, name: str, spec: dict[str, Any], kind: str | None) -> Found | None:
        concept = self._concept(name, spec)
        stated = self._stated(name, spec, concept)
        if stated is not None and (value := self._exact(stated, spec, kind, concept)) is not None:
            return Found(value, STRUCTURED_CONFIDENCE)
        labels, rivals = self._labels(name, spec, concept), _rivals(concept)
        labelled = self.reader.labelled(labels, rivals, mode=_mode(kind, concept, spec))
        if concept is not None and concept.name == "total" and kind in ("number", "integer"):
            return self._total(labelled, labels, concept, spec, kind) or self.fallback(name, spec, kind, concept)
        if concept is not None and concept.name == "issuer" and kind in (None, "string"):
            return self._issuer(labelled, spec, kind, concept)
        for rank, occurrences in labelled:
            parsed = [
                found for candidates in occurrences if (found := self._first_parsed(candidates, spec, kind, concept))
            ]
            if not parsed:
                continue
            # A document repeats its total (summary, then payment slip); the last one is the final figure.
            found = parsed[-1] if concept is not None and concept.name == "total" else parsed[0]
            distinct = len({repr(f.value) for f in parsed})
            found.confidence *= (1 - min(rank, 10) * 0.02) * (0.85 if distinct > 1 else 1.0)
            return found
        return self.fallback(name, spec, kind, concept)

    def _total(self, labelled, labels: tuple[str, ...], concept: Concept, spec: dict, kind: str | None) -> Found | None:
        """The total: the largest figure under the strongest kind of total label.

        Receipts and invoices print several totals — of quantities, before tax, of the tax, of a tax
        summary, after payment (``balance 0.00``) — and the one asked for is the sum of the rest, so
        never smaller than a figure it adds up. Labels stronger than a bare ``total`` (``grand total``,
        ``amount due``, ``Bruttosumme``, the property's own words) are tried first, then ``total``,
        then the weak ones (``amount``, ``gross``). A figure that equals a subtotal plus tax or the
        payment less change is confirmed, and says so in its confidence."""
        plain = concept.labels.index("total")

        def tier(label: str) -> int:
            if label not in concept.labels or concept.labels.index(label) < plain:
                return 0
            return 1 if label == "total" else 2

        candidates: list[tuple[int, Found]] = []
        for rank, occurrences in labelled:
            for options in occurrences:
                if (found := self._first_parsed(options, spec, kind, concept)) is not None:
                    candidates.append((tier(labels[rank]), found))
        sums = self._confirming_sums() if candidates else []
        confirmed = [(level, f) for level, f in candidates if f.value and any(abs(t - f.value) < 0.011 for t in sums)]
        if confirmed:
            level = min(level for level, _ in confirmed)
            best = max((f for lv, f in confirmed if lv == level), key=lambda f: abs(f.value))
            return Found(self._rounded(best.value), 0.95)
        if not candidates:
            return None
        level = min(level for level, _ in candidates)
        pool = [f for lv, f in candidates if lv == level]
        best = max([f for f in pool if f.value] or pool, key=lambda f: (abs(f.value), f.confidence))
        return Found(self._rounded(best.value), 0.8 - 0.1 * level)

    def _rounded(self, value: float) -> float:
        """The total after a rounding adjustment (``Rounding Adj -0.01``), where the document prints it:
        cash totals are rounded to 5 cents in some countries, and the rounded figure is what was paid."""
        adjustments = [a for a in self._figures("rounding") if a and abs(a) < 0.1]
        if not adjustments:
            return value
        printed = {round(n[0], 2) for line in self.reader.lines for cell in line for n in numbers_in(cell.text)}
        return next((round(value + a, 2) for a in adjustments if round(value + a, 2) in printed), value)

    def _confirming_sums(self) -> list[float]:
        """What the document's other figures add up to, which a total equals: subtotal + tax, paid - change."""
        figures = {concept: self._figures(concept) for concept in ("subtotal", "tax", "paid", "change")}
        sums = [s + t for s in figures["subtotal"] for t in figures["tax"]]
        return sums + [p - c for p in figures["paid"] for c in figures["change"] or [0.0]]

    def _figures(self, concept_name: str) -> list[float]:
        labels = _CONFIRMING_LABELS[concept_name]
        found = []
        for _, occurrences in self.reader.labelled(labels, mode="figure"):
            for candidates in occurrences:
                if candidates and (amount := best_amount(candidates[0].value)) is not None:
                    found.append(amount[0])
        return found

    def _first_parsed(self, candidates: list[Found], spec: dict, kind: str | None, concept: Concept | None):
        for candidate in candidates:
            value = self.parse(candidate.value, spec, kind, concept)
            if value is not None:
                return Found(value, candidate.confidence)
        return None

    def parse(self, raw: str, spec: dict[str, Any], kind: str | None, concept: Concept | None) -> Any:
        raw = raw.strip()
        if not raw:
            return None
        if kind in ("number", "integer"):
            amount = best_amount(raw) if not concept or concept.kind != "quantity" else _first_number(raw)
            if amount is None:
                return None
            value, currency = amount
            if currency and concept and concept.name in ("total", "subtotal", "tax"):
                self.currency_hint = self.currency_hint or currency
            if kind == "integer":
                value = int(value) if float(value).is_integer() else None
            if value is not None and isinstance(spec.get("enum"), list) and value not in spec["enum"]:
                return None
            return value
        if kind == "boolean":
            return parse_bool(raw)
        if kind not in (None, "string"):
            return None
        if is_label(raw):
            return None  # the cell beside or below a label is often the next label, not a value
        if "enum" in spec:
            return _enum(raw, spec["enum"])
        if is_date(spec, concept):
            date = parse_date(raw, day_first=self.reader.day_first)
            return _date_time(date, raw) if date and spec.get("format") == "date-time" else date
        if concept and concept.kind == "currency":
            return currency_in(raw) or (raw.upper() if re.fullmatch(r"[A-Za-z]{3}", raw) else None)
        if concept and concept.kind == "identifier":
            return _identifier(raw, concept)
        if concept and concept.kind == "party":
            name = party_name(raw)
            if not name or not name_like(name):
                return None
            self.names.add(fold(name))
            return name
        if concept and concept.kind == "address":
            names = self.names | {fold(n) for h in ("To", "From") if (n := self._header_name(h))}
            parts = [part for part in raw.split(", ") if fold(part.strip()) not in names]
            return ", ".join(parts) or None
        if concept and concept.shape:
            match = re.search(concept.shape, raw)
            return match.group(0) if match else None
        return raw

    def fallback(self, name: str, spec: dict[str, Any], kind: str | None, concept: Concept | None) -> Found | None:
        """When nothing is labelled: what the layout alone suggests, with a low confidence."""
        if concept is None:
            return None
        if concept.kind == "currency":
            currency = self.currency_hint or self.reader.document_currency()
            return Found(currency, 0.7 if self.currency_hint else 0.5) if currency else None
        if concept.name == "invoice_number" and kind in (None, "string"):
            titled = self._titled_number
            return Found(titled[0], 0.75) if titled else None
        if concept.name == "invoice_date" and kind in (None, "string") and _names_only(concept, name, spec):
            titled = self._titled_number
            date = parse_date(titled[1], day_first=self.reader.day_first) if titled else None
            # the date of an invoice, not of a birth or a period's end
            found = Found(date, 0.8) if date else self._first_unclaimed_date(concept)
            if found and spec.get("format") == "date-time":
                found.value = _date_time(found.value, "")
            return found
        if concept.name == "issuer" and kind in (None, "string"):
            return self._letterhead()
        if concept.name == "customer" and kind in (None, "string"):
            name = self._header_name("To")
            return Found(name, 0.5) if name else None
        if "enum" in spec:
            named = {
                o for line in self.reader.lines for c in line if (o := _enum(c.text, spec["enum"], other_allowed=False))
            }
            return Found(named.pop(), 0.5) if len(named) == 1 else None
        if concept.shape and kind in (None, "string"):
            match = re.search(concept.shape, self.reader.text)
            return Found(match.group(0), 0.6) if match else None
        return None

    @cached_property
    def _titled_number(self) -> tuple[str, str] | None:
        """The number in a document's title line, and the rest of that line: ``Handelsrechnung Nr. 471102
        vom 05.03.2018``, ``Facture FA-2017-0010``, ``Invoice # RE-20201121/508 issued at 2020-11-21``.
        Read once: the invoice number and the invoice date both look for it."""
        for line in self.reader.lines:
            text = " ".join(cell.text for cell in line)
            match = _TITLED_NUMBER.search(text)
            if match and not parse_date(match.group(1)) and re.search(r"\d", match.group(1)):
                return match.group(1).rstrip(".,;:"), text[match.end() :]
        return None

    def _first_unclaimed_date(self, concept: Concept) -> Found | None:
        """The first date on a line that no other kind of date (due, order, delivery…) labels; surer when
        it is the only date the document prints (a receipt's), less when there are others to choose from."""
        others = [label for c in CONCEPTS if c.kind == "date" and c is not concept for label in c.labels]
        dates = []
        for line, folded in zip(self.reader.lines, self.reader.folded):
            if any(self.reader.pattern(label).search(cell) for label in others for cell in folded):
                continue
            date = parse_date(" ".join(cell.text for cell in line), day_first=self.reader.day_first)
            if date:
                dates.append(date)
        if not dates:
            return None
        return Found(dates[0], 0.85 if len(set(dates)) == 1 else 0.4)

    def list(self, name: str, spec: dict[str, Any], items: dict[str, Any], pointer: str) -> list[Any] | None:
        concept = self._concept(name, spec) or self._concept(name, items)
        kind = schema_type(items)
        if concept and concept.shape:
            values = list(dict.fromkeys(m.group(0) for m in re.finditer(concept.shape, self.reader.text)))
            confidence = 0.85
        else:
            values, confidence = [], 0.8
            for _, occurrences in self.reader.labelled(self._labels(name, spec, concept), _rivals(concept)):
                for candidate in (candidates[0] for candidates in occurrences if candidates):
                    for part in re.split(r"[,;]\s*", candidate.value):
                        value = self.parse(part, items, kind, concept)
                        if value is not None and value not in values:
                            values.append(value)
                if values:
                    break
        if not values:
            return None
        for index in range(len(values)):
            self.confidences[f"{pointer}/{index}"] = confidence
        return values
