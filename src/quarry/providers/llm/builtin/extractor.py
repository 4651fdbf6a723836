"""Schema-guided extraction without a model.

For each property of the output schema: find where the document labels it (``Invoice No.:``,
a column header, an email header, a JSON key), take the value beside or below the label, and
parse it by the property's type. Arrays of objects are filled from tables (real ones, or lines
that line up under a header). Every value comes with a confidence in [0, 1] that says how it
was found: a label's own cell beats the next cell, which beats the line below, which beats a
guess from layout alone.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from quarry.documents.einvoice import EInvoice
from quarry.documents.layout import Cell, cells_of_text, document_lines
from quarry.documents.model import Document
from quarry.providers.llm.builtin.values import (
    best_amount,
    currency_in,
    date_order_hint,
    fold,
    numbers_in,
    parse_bool,
    parse_date,
    parse_number,
)
from quarry.providers.llm.builtin.vocabulary import CONCEPTS, Concept, concept_for, words

_SEPARATORS = " \t:#=-–—.|"
# A legal form ends a company's name. Forms that are no ordinary word match anywhere, in any case; those
# that are ordinary words ("limited", "company") or short ("as", "ab", "co", "sa", "kg") only at the end of
# the name, and the short ones only as written by companies (AS, AB, Co.) — "shopping with us as always"
# and "Net weight 12 kg" are not company names.
_NAME_END = r"(?=\s*(?:$|[,;)&|]|\s[-–]\s))"
_COMPANY_SUFFIX = re.compile(
    r"\b(?i:inc|ltd|llc|llp|gmbh|plc|pty|pvt|corp|sarl|s\.a\.r\.l)\b\.?"
    r"|\b(?i:incorporated|limited|corporation|company)\b\.?"
    + _NAME_END
    + r"|\b(?:AG|SA|SAS|SRL|Srl|SpA|SPA|BV|NV|AS|ASA|AB|KG|Oy|OY|Co|CO|S\.A|S\.L|S\.p\.A)\b\.?"
    + _NAME_END
    # Malaysia and Singapore (Sdn. Bhd., S/B, PLT, Pte), sole proprietors' registered trade names
    # (Enterprise, Trading), German (e.K., OHG, UG, a.G.), and more that no ordinary word spells.
    + r"|\b(?i:sdn\.?\s?bhd|bhd|s/b|plt|pte|enterprises?|trading|holdings|sarl|eurl|gmbh|ohg|kft|zrt|s\.r\.o|"
    r"sp\.\s?z\s?o\.o)\b\.?|\b(?:e\.K|UG|a\.G|e\.V|ApS|A/S)(?![\w])\.?"
)


_DOCUMENT_TITLE = re.compile(
    r"\b(tax invoice|invoice|receipt|payment receipt|order confirmation|order|bill of lading|rechnung|quittung|"
    r"facture|factura|fattura|statement|bill|delivery note|packing list)\b"
)


@dataclass
class Found:
    value: Any
    confidence: float


def _label_pattern(label: str) -> re.Pattern[str]:
    tokens = [re.escape(token) for token in re.split(r"[\s_\-./]+", fold(label)) if token]
    end = r"(?![a-z0-9])" if fold(label)[-1:].isalnum() else ""  # "n°" and "#" may touch their value
    return re.compile(r"(?<![\w])" + r"[\s_\-./]*".join(tokens) + end)


class _Reader:
    """One document, read once: its lines as cells, folded for matching, and document-wide hints."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.lines = document_lines(document)
        self.folded = [[fold(cell.text).replace("_", " ") for cell in line] for line in self.lines]
        self.text = document.text
        self.day_first = date_order_hint(self.text)
        self._patterns: dict[str, re.Pattern[str]] = {}
        # JSON and XML state their keys: labels are matched against key paths, not against lines.
        structured = document.input_type in STRUCTURED_TYPES
        self.minor_units = _counts_minor_units(document.data)
        fields = document.fields if structured else []
        self.keyed = [(words(key), self.money(words(key), value)) for key, value in fields]

    def money(self, key: list[str], value: str) -> str:
        """A JSON amount as written in major units: APIs like Stripe's state ``"total": 428938`` for
        $4,289.38, and keys such as ``price_cents`` say so themselves."""
        if not re.fullmatch(r"-?\d+", value.strip()):
            return value
        named = {"cents", "minor"} & set(key)
        if named or (self.minor_units and _MONEY_KEY_WORDS & set(key)):
            return f"{int(value) / 100:.2f}"
        return value

    def pattern(self, label: str) -> re.Pattern[str]:
        if label not in self._patterns:
            self._patterns[label] = _label_pattern(label)
        return self._patterns[label]

    def labelled(
        self, labels: tuple[str, ...], rivals: tuple[str, ...] = (), *, mode: str = "inline"
    ) -> list[tuple[int, list[list[Found]]]]:
        """For each label (by rank), its occurrences in document order, each with the values that may
        belong to it (best first). A label inside a longer rival label (``date`` in ``due date``) is not it.

        ``mode`` says what a value looks like: ``inline`` (a cell), ``figure`` (a number that may share
        its line with a date), ``total`` (a figure, preferably from the totals row of the label's
        column) or ``block`` (lines under the label, as an address)."""
        results = []
        for rank, label in enumerate(labels):
            if self.keyed:
                occurrences = [[Found(value, 0.95)] for value in self._keyed_values(label, rivals)]
                if occurrences:
                    results.append((rank, occurrences))
                continue
            occurrences = []
            pattern = self.pattern(label)
            for i, line in enumerate(self.folded):
                for j, cell in enumerate(line):
                    match = pattern.search(cell)
                    if not match or self._rivalled(cell, match, rivals):
                        continue
                    if match.start() and (match.start() > 20 or len(label) < 5):
                        continue  # deep inside a sentence, a label word is just a word
                    weight = 1.0 if not cell[: match.start()].strip(_SEPARATORS) else 0.8
                    values = self._values(i, j, match.end(), mode)
                    occurrences.append([Found(v, c * weight) for v, c in values])
            if occurrences:
                results.append((rank, occurrences))
        return results

    def _keyed_values(self, label: str, rivals: tuple[str, ...]) -> list[str]:
        """Values whose key path holds the label followed by nothing but generic words
        (``vendor name`` for "vendor", not ``vat rate`` for "vat"), and no longer rival label."""
        wanted = words(label)
        found = []
        for key, value in self.keyed:
            for start in range(len(key) - len(wanted) + 1):
                if key[start : start + len(wanted)] == wanted and set(key[start + len(wanted) :]) <= GENERIC_KEY_WORDS:
                    if not any(_contains(key, words(rival), start, len(wanted)) for rival in rivals):
                        found.append(value)
                    break
        return found

    def _rivalled(self, cell: str, match: re.Match[str], rivals: tuple[str, ...]) -> bool:
        for rival in rivals:
            for other in self.pattern(rival).finditer(cell):
                if (
                    other.start() <= match.start()
                    and other.end() > match.end()
                    or (other.start() < match.start() and other.end() >= match.end())
                ):
                    return True
        return False

    def _values(self, i: int, j: int, end: int, mode: str) -> list[tuple[str, float]]:
        """Where a label's value may be: the rest of its cell (or of its line, for figures that share a
        line with a date: ``Total due on 3 Aug, 2014  $4.11``), the next cell, the cell below."""
        line = self.lines[i]
        rest = own = line[j].text[end:]  # folding keeps lengths, so positions carry over
        if mode in ("figure", "total"):
            rest = " ".join([rest, *(cell.text for cell in line[j + 1 :])])
        # A minus sign after the label's colon, or on the figure, is the figure's: "Refund: - 50.00", "-$50.00".
        sign = "-" if mode in ("figure", "total") and _LEADING_SIGN.match(rest) else ""
        rest = re.sub(r"^\s*(?:n°|no\.?(?![a-z])|nr\.?(?![a-z])|#|:)?[\s:#=.\-–—]*", "", rest, flags=re.I).strip()
        rest = sign + rest if rest else rest
        rest = re.sub(r"^[^\W\d][\w .\-]{0,30}:\s+", "", rest)  # "seller name: X" matched by "seller": X
        if mode == "block":
            block = self._block(i, j, rest)
            return [(block, 0.85)] if block else []
        if mode == "party":
            return self._party_values(i, j, rest)
        values = []
        if mode == "total" and not numbers_in(own):  # "Weight: 12.5 kg" states its own value
            total = self._column_total(i, j)
            if total is not None:
                values.append((total, 0.9))
        if rest:
            values.append((rest, 0.95))
        if j + 1 < len(line):
            values.append((line[j + 1].text, 0.9))
        below = self._aligned(i, j, i + 1)
        # "Tax rate 19%" over "Total 100.00": the line below states its own label's value, not this one's.
        if below is not None and not (mode in ("figure", "total", "date") and _labelled(below)):
            values.append((below, 0.8))
        return values

    def _party_values(self, i: int, j: int, rest: str) -> list[tuple[str, float]]:
        """A name after its label, in the next cell, or in the first line below that is not another
        ``label: value`` (``Verkäufer:`` over ``Nummer: 549910`` over ``Lieferant GmbH``). A label word
        followed by nothing but a legal form is the name itself (``Lieferant GmbH``)."""
        line = self.lines[i]
        values = []
        if rest and _LEGAL_FORM_ONLY.fullmatch(rest.strip()):
            values.append((line[j].text.strip(), 0.9))
        elif rest:
            values.append((rest, 0.95))
        if j + 1 < len(line):
            values.append((line[j + 1].text, 0.9))
        for k in range(i + 1, min(i + 5, len(self.lines))):
            below = self._aligned(i, j, k)
            if below is not None and ":" not in below and not _labelled(below) and _name_like(below):
                values.append((below, 0.8))
                break
        return values

    def _aligned(self, i: int, j: int, k: int) -> str | None:
        """The text on line ``k`` in the column of cell ``j`` of line ``i``."""
        if k >= len(self.lines):
            return None
        cell, target = self.lines[i][j], self.lines[k]
        if cell.left is not None and target[0].left is not None:
            overlapping = [c for c in target if min(c.right, cell.right) - max(c.left, cell.left) > 0]
            return overlapping[0].text if overlapping else None
        if len(target) == len(self.lines[i]):
            return target[j].text
        return target[0].text if j == 0 else None

    def _column_total(self, i: int, j: int) -> str | None:
        """Under a column header (``Gross Wt.``), the figure of the table's totals row, if it has one.

        Not when what lines up is a ``Label: value`` line of its own (``Weight`` over ``Total: 100.00``):
        that total is of something else."""
        for k in range(i + 1, min(i + 60, len(self.lines))):
            if _TOTALS_ROW.match(self.folded[k][0]):
                aligned = self._aligned(i, j, k)
                return None if aligned is None or _TOTAL_LABEL_VALUE.match(fold(aligned)) else aligned
        return None

    def _block(self, i: int, j: int, rest: str) -> str:
        """Address-like lines under a label (or after it): short, no sentence, no other label."""
        parts = [rest] if rest else []
        for k in range(i + 1, min(i + 7, len(self.lines))):
            text = self._aligned(i, j, k) if len(self.lines[k]) > 1 else self.lines[k][0].text
            if not text or len(parts) >= 5 or _ends_block(text):
                break
            parts.append(text.strip())
        return ", ".join(parts)

    def document_currency(self) -> str | None:
        """The currency most figures are written in; else one a cell states alone (a column's ``EUR``)."""
        counts = Counter(c for line in self.lines for cell in line for *_, c in numbers_in(cell.text) if c)
        if not counts:
            counts = Counter(
                c
                for line in self.lines
                for cell in line
                if _STANDALONE_CURRENCY.fullmatch(cell.text.strip()) and (c := currency_in(cell.text))
            )
        return counts.most_common(1)[0][0] if counts else None


MAX_SCHEMA_DEPTH = 8  # objects in objects that are filled in: a recursive schema ($ref to itself) stops here


def _pointer_to(root: Any, ref: str) -> Any:
    """The subschema a local reference (``#/$defs/Item``) points at; None for any other reference."""
    if not ref.startswith("#"):
        return None
    node = root
    for part in [p for p in unquote(ref[1:]).split("/") if p][:32]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def plain_schema(spec: Any, root: Any, depth: int = 0) -> dict[str, Any] | None:
    """A subschema as the extractor reads it: ``true`` is ``{}`` (anything), ``false`` is None (nothing
    can be valid: the property is left out), a local ``$ref`` is replaced by what it points at (its
    sibling keywords kept), and ``anyOf``/``oneOf`` by their first branch that is not ``null``."""
    if spec is True or depth > 16:  # a chain of references this long is not followed further
        return {}
    if not isinstance(spec, dict):
        return None
    if isinstance(spec.get("$ref"), str):
        siblings = {key: value for key, value in spec.items() if key != "$ref"}
        target = _pointer_to(root, spec["$ref"])
        base = plain_schema(target, root, depth + 1) if target is not None else {}
        if base is None:
            return None
        spec = {**base, **siblings}
    for keyword in ("anyOf", "oneOf"):
        branches = spec.get(keyword)
        if isinstance(branches, list) and "type" not in spec:
            siblings = {key: value for key, value in spec.items() if key != keyword}
            for branch in branches:
                chosen = plain_schema(branch, root, depth + 1)
                if chosen is not None and not _is_null(chosen):
                    spec = {**chosen, **siblings}
                    break
    return spec


def _is_null(spec: dict[str, Any]) -> bool:
    kind = spec.get("type")
    return kind == "null" or kind == ["null"] or ("const" in spec and spec["const"] is None)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _type(spec: dict[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind is None and isinstance(spec.get("properties"), dict):
        return "object"
    return kind


def _is_date(spec: dict[str, Any], concept: Concept | None) -> bool:
    return spec.get("format") in ("date", "date-time") or (concept is not None and concept.kind == "date")


class Extractor:
    def __init__(self, document: Document, root: Any = None) -> None:
        self.root = root  # the whole schema, where local references point
        self.reader = _Reader(document)
        self.confidences: dict[str, float] = {}
        self.currency_hint: str | None = None
        self.names: set[str] = set()  # people and companies found so far: not part of an address
        self.einvoice = _einvoice_of(document)
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
        order = sorted(properties, key=lambda name: _type(properties[name]) not in ("number", "integer"))
        for name in order:
            qualified = _qualified(owner, name, properties[name])
            value = self.property(qualified, properties[name], f"{pointer}/{_escape(name)}", depth)
            if value is not None:
                content[name] = value
        return {name: content[name] for name in properties if name in content}

    def property(self, name: str, spec: dict[str, Any], pointer: str, depth: int = 0) -> Any:
        kind = _type(spec)
        if kind == "object":
            nested = self.object(spec, pointer, depth + 1, owner=name) if depth < MAX_SCHEMA_DEPTH else {}
            return nested or None
        if kind == "array":
            items = plain_schema(spec.get("items", True), self.root)
            if items is None:
                return None  # "items": false — only an empty array is valid
            if _type(items) == "object":
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
        if "enum" in spec or _is_date(spec, concept) or (concept is not None and concept.kind == "currency"):
            return self.parse(raw, spec, kind, concept)
        if concept is not None and concept.kind == "party":
            self.names.add(fold(raw))
        return raw

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
        if _is_label(raw):
            return None  # the cell beside or below a label is often the next label, not a value
        if "enum" in spec:
            return _enum(raw, spec["enum"])
        if _is_date(spec, concept):
            date = parse_date(raw, day_first=self.reader.day_first)
            return _date_time(date, raw) if date and spec.get("format") == "date-time" else date
        if concept and concept.kind == "currency":
            return currency_in(raw) or (raw.upper() if re.fullmatch(r"[A-Za-z]{3}", raw) else None)
        if concept and concept.kind == "identifier":
            return _identifier(raw, concept)
        if concept and concept.kind == "party":
            name = _party(raw)
            if not name or not _name_like(name):
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
        A table label, a registration number or a line item is never a name (``_name_like``)."""
        named = None
        for _, occurrences in labelled:
            found = [f for options in occurrences if (f := self._first_parsed(options, spec, kind, concept))]
            if found:
                named = found[0]
                break
        if named is not None and _COMPANY_SUFFIX.search(named.value):
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
                form = _COMPANY_SUFFIX.search(text)
                if not form:
                    continue
                # One name on two lines: "POPULAR BOOK" over "CO. (M) SDN BHD", "THE COFFEE BEAN" over
                # "& TEA LEAF SDN BHD", "SINNATHAMBY HOLDINGS" over "SDN. BHD.".
                previous = head[index - 1][0] if index else []
                before = re.findall(r"[^\W\d_]{3,}", text[: form.start()])
                if len(previous) == 1 and (len(before) <= 1 or text.startswith("&")) and _name_like(previous[0].text):
                    text = f"{previous[0].text.strip()} {text}"
                following = head[index + 1][0] if index + 1 < len(head) else []
                if len(following) == 1 and _LEGAL_FORM_ONLY.fullmatch(following[0].text):
                    text = f"{text} {following[0].text.strip()}"
                if len(text) < 80 and ":" not in text and (name := _party(text)) and _name_like(name):
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
            if name and len(name.split()) <= 6 and (party := _party(name)):
                return Found(party, 0.4 if title else 0.3)
        return None

    def list(self, name: str, spec: dict[str, Any], items: dict[str, Any], pointer: str) -> list[Any] | None:
        concept = self._concept(name, spec) or self._concept(name, items)
        kind = _type(items)
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

    def rows(self, name: str, spec: dict[str, Any], items: dict[str, Any], pointer: str) -> list[dict] | None:
        """An array of objects from the table whose header names the most of the items' properties."""
        properties = self.properties(items)
        stated = self._stated_rows(properties, pointer)
        if stated:
            return stated
        best: tuple[int, list[dict[str, Any]], float] | None = None
        read: set[int] = set()  # lines already read as the rows of a table: not the header of another
        for header, body, confidence in self._tables(read):
            columns = self._columns(header, properties)
            if len(set(columns.values())) < min(2, len(properties)):
                continue
            rows = body()
            records = [r for r in (self._record(row, header, columns, properties) for _, row in rows) if r]
            if records:
                read.update(index for index, _ in rows if index is not None)
            score = len(set(columns.values())) * 100 + len(records)
            if records and (best is None or score > best[0]):
                best = (score, records, confidence)
        if best is None:
            listed = self._listed_items(properties)
            if not listed:
                return None
            best = (0, listed, 0.6)
        _, records, confidence = best
        for index, record in enumerate(records):
            for key in record:
                self.confidences[f"{pointer}/{index}/{_escape(key)}"] = confidence
        return records

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
                value = self._exact(raw, spec, _type(spec), concept) if raw else None
                if value is not None:
                    record[name] = value
                    self.confidences[f"{pointer}/{index}/{_escape(name)}"] = STRUCTURED_CONFIDENCE
            records.append(record)
        return records

    def _listed_items(self, properties: dict[str, dict]) -> list[dict[str, Any]]:
        """Items listed without a header, as on receipts: ``Croissant   1,20`` (or a name, then
        ``3 x 0,60   1,80`` below it), in a run of lines that a totals line closes."""
        roles = {
            self._concept(n, s, in_table=True).name: n
            for n, s in properties.items()
            if self._concept(n, s, in_table=True)
        }
        text_name, amount_name = roles.get("description"), roles.get("line_amount") or roles.get("unit_price")
        if not text_name or not amount_name:
            return []
        quantity_name = roles.get("quantity")
        best: list[dict[str, Any]] = []
        run: list[dict[str, Any]] = []
        pending: str | None = None  # a name whose figures follow on the next line
        for line in self.reader.lines:
            if _ends_table(line):
                best = run if len(run) > len(best) else best
                run, pending = [], None
                continue
            first = line[0].text
            if not re.search(r"\w", " ".join(c.text for c in line)):
                continue  # a rule: ---- or ====
            amount = best_amount(line[-1].text) if len(line) >= 2 else None
            times = _QUANTITY_TIMES.match(first)
            if amount and (times and pending or _wordy(first) and not _is_label(first)):
                record: dict[str, Any] = {text_name: pending if times and pending else first, amount_name: amount[0]}
                quantity = times or _QUANTITY_TIMES.search(" ".join(c.text for c in line[:-1]))
                if quantity_name and quantity:
                    record[quantity_name] = _number_for(properties[quantity_name], quantity.group(1))
                run.append({k: v for k, v in record.items() if v is not None})
                pending = None
            elif len(line) == 1 and _wordy(first):
                pending = first
            else:
                run, pending = [], None
        return [{n: r[n] for n in properties if n in r} for r in best]

    def _tables(self, read: set[int]):
        """(header cells, body rows, confidence): the document's tables, then header-like lines and the
        lines with figures that follow them up to a totals line — however many (no cap on rows).

        Bodies are made only when asked for (``body()``: ``(line index, cells)`` pairs), and a line
        already read as a row of a table (``read``) is not tried as the header of another: a long
        document costs a pass over its lines, not one per line."""
        for table in self.reader.document.all_tables:
            if len(table.rows) > 1:
                rows = [(None, [Cell(t) for t in row]) for row in table.rows[1:]]
                yield [Cell(text) for text in table.rows[0]], lambda rows=rows: rows, 0.85
        lines = self.reader.lines
        figures = [sum(1 for cell in line if numbers_in(cell.text)) for line in lines]
        ends = [
            bool(count) and _TABLE_END.match(fold(line[0].text).strip(_SEPARATORS))
            for line, count in zip(lines, figures)
        ]
        is_row = [len(line) >= 2 and count > 0 for line, count in zip(lines, figures)]
        # For each line, the first totals line after it and the first line that may be a row after it.
        next_end, next_row = [len(lines)] * (len(lines) + 1), [len(lines)] * (len(lines) + 1)
        for k in range(len(lines) - 2, -1, -1):
            next_end[k] = k + 1 if ends[k + 1] else next_end[k + 1]
            next_row[k] = k + 1 if is_row[k + 1] else next_row[k + 1]
        for i, line in enumerate(lines):
            if i in read or len(line) < 2 or figures[i] > 1 or next_row[i] >= next_end[i]:
                continue
            span = range(next_row[i], next_end[i])
            yield line, lambda span=span: [(k, lines[k]) for k in span if is_row[k]], 0.75

    def _columns(self, header: list[Cell], properties: dict[str, dict]) -> dict[int, str]:
        """Header cell index -> item property, each property taking the header that names it best."""
        columns: dict[int, str] = {}
        taken: set[str] = set()
        scored = []
        for name, spec in properties.items():
            concept = self._concept(name, spec, in_table=True)
            labels = self._labels(name, spec, concept)
            for index, cell in enumerate(header):
                folded = " ".join(words(cell.text))  # "InvoicedQuantity", "unit_price" -> words
                for rank, label in enumerate(labels):
                    match = self.reader.pattern(label).search(folded)
                    if match:
                        exact = match.start() == 0 and match.end() >= len(folded) - 1
                        scored.append((0 if exact else 1, rank, index, name))
                        break
        for _, _, index, name in sorted(scored):
            if index not in columns and name not in taken:
                columns[index] = name
                taken.add(name)
        return columns

    def _record(
        self, row: list[Cell], header: list[Cell], columns: dict[int, str], properties: dict[str, dict]
    ) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for index, cell in _aligned(row, header):
            name = columns.get(index)
            if name is None or name in record:
                continue
            spec = properties[name]
            text = self.reader.money(words(header[index].text), cell.text) if self.reader.keyed else cell.text
            value = self.parse(text, spec, _type(spec), self._concept(name, spec, in_table=True))
            if value is not None:
                record[name] = value
        text_properties = [n for n, spec in properties.items() if _type(spec) in (None, "string")]
        leftovers = [
            c.text for i, c in _aligned(row, header) if columns.get(i) not in record and not numbers_in(c.text)
        ]
        for name in text_properties:  # a header cell naming two columns ("Qty Description") leaves one unfilled
            if name not in record and leftovers and self._concept(name, properties[name], in_table=True):
                if self._concept(name, properties[name], in_table=True).name == "description":
                    record[name] = leftovers.pop(0)
        numeric = [n for n in record if isinstance(record[n], int | float)]
        if not numeric or len(record) < min(2, len(properties)):
            return {}  # a wrapped description or a stray line, not an item
        return {name: record[name] for name in properties if name in record}


STRUCTURED_TYPES = ("json", "xml")
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
_DUE_WORDS = frozenset({"due", "payable", "balance", "outstanding"})


def _einvoice_of(document: Document) -> EInvoice | None:
    """The document's own e-invoice, else the first its attachments carry (an email with a Factur-X PDF)."""
    if document.einvoice is not None:
        return document.einvoice
    attached = (_einvoice_of(a.document) for a in document.attachments if a.document is not None)
    return next((record for record in attached if record is not None), None)


_MONEY_KEY_WORDS = frozenset("amount total subtotal tax price due paid balance fee cost discount".split())


def _counts_minor_units(data: Any) -> bool:
    """Whether a JSON document writes amounts in minor units (cents): an API object in Stripe's shape,
    ``{"object": "invoice", "currency": "usd", ...}`` — a typed object whose currency is a lower-case
    ISO code, the convention of the APIs that count in cents."""
    if not isinstance(data, dict):
        return False
    currency = data.get("currency")
    typed = isinstance(data.get("object"), str)
    return typed and isinstance(currency, str) and bool(re.fullmatch(r"[a-z]{3}", currency))


GENERIC_KEY_WORDS = frozenset(
    "name id value text number no nr code date amount on at party string time date time string formatted "
    "display full legal registration trade".split()
)


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


def _contains(key: list[str], rival: list[str], start: int, length: int) -> bool:
    """Whether ``rival`` occurs in ``key`` covering the span ``[start, start + length)`` and longer than it."""
    if len(rival) <= length:
        return False
    for at in range(max(0, start + length - len(rival)), min(start, len(key) - len(rival)) + 1):
        if key[at : at + len(rival)] == rival:
            return True
    return False


def _rivals(concept: Concept | None) -> tuple[str, ...]:
    """Labels that contain one of this concept's labels but mean something else."""
    if concept is None:
        return ()
    others = tuple(label for other in CONCEPTS if other is not concept for label in other.labels)
    return concept.negative + others


def _aligned(row: list[Cell], header: list[Cell]) -> list[tuple[int, Cell]]:
    """Each row cell with the index of its header column: by position where known, else by order."""
    if row and header and row[0].left is not None and header[0].left is not None:
        pairs = []
        for cell in row:
            overlaps = [min(cell.right, h.right) - max(cell.left, h.left) for h in header]
            best = max(range(len(header)), key=lambda k: overlaps[k])
            if overlaps[best] <= 0:
                centre = (cell.left + cell.right) / 2
                best = min(range(len(header)), key=lambda k: abs((header[k].left + header[k].right) / 2 - centre))
            pairs.append((best, cell))
        return pairs
    if len(row) == len(header):
        return list(enumerate(row))
    # Fewer cells than headers: text on the left, numbers aligned to the right columns.
    offset = len(header) - len(row)
    return [(index if index == 0 else index + offset, cell) for index, cell in enumerate(row)]


_TABLE_END = re.compile(
    r"^(sub ?total|total|grand total|amount due|balance|tax|vat|mwst|tva|zwischensumme|summe|gesamt|net|shipping)\b"
)


def _ends_table(line: list[Cell]) -> bool:
    """A totals line (a total label and a figure) closes a table of line items."""
    has_figure = any(numbers_in(cell.text) for cell in line)
    return has_figure and bool(_TABLE_END.match(fold(line[0].text).strip(_SEPARATORS)))


_ALL_LABELS = frozenset(" ".join(words(label)) for concept in CONCEPTS for label in concept.labels)


def _is_label(text: str) -> bool:
    """``Port of Discharge``, ``Carrier:``, ``/Exporter`` (the end of ``Shipper/Exporter``)."""
    stripped = text.strip()
    return stripped.startswith("/") or " ".join(words(stripped)) in _ALL_LABELS


def _mode(kind: str | None, concept: Concept | None, spec: dict[str, Any]) -> str:
    if kind in ("number", "integer"):
        return "total" if concept is not None and concept.kind == "quantity" else "figure"
    if concept is not None and concept.kind == "address":
        return "block"
    if concept is not None and concept.kind == "party":
        return "party"
    return "date" if kind in (None, "string") and _is_date(spec, concept) else "inline"


_TOTALS_ROW = re.compile(r"(grand )?totals?\b|sum\b|summe\b|gesamt")
_TOTAL_LABEL_VALUE = re.compile(r"\s*(?:(grand )?totals?\b|sum\b|summe\b|gesamt)[^\d:]{0,40}:")
# "Total 100.00", "Due date: 2024-05-01": a cell that opens with a label (of any concept) followed by a
# colon or by a figure states that label's value.
_LEADING_LABEL = re.compile(r"\s*([^\W\d_][^\d:]{0,40}?)(?:\s*:|\s+(?=[-−(+]?\s?(?:[$€£¥₹]\s?)?\d))")
# A minus sign that belongs to the figure: after the label's colon (``Refund: - 50.00 EUR``), or on the
# figure or its currency (``Refund -$50.00``); a dash set apart after the label is a dash (``Coffee - 3.50``).
_LEADING_SIGN = re.compile(r"\s*(?:[:=]\s*[-−]\s?(?=(?:[$€£¥₹]|[A-Z]{3})?\s?\d)|[-−](?=(?:[$€£¥₹]\s?)?\d))")
_STANDALONE_CURRENCY = re.compile(r"\(?\s*(?:[A-Z]{3}|[$€£¥₹])\s*\)?")


def _labelled(text: str) -> bool:
    match = _LEADING_LABEL.match(text)
    if not match:
        return False
    found = words(match.group(1))
    return any(" ".join(found[:k]) in _ALL_LABELS for k in range(1, len(found) + 1))


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


def _ends_block(text: str) -> bool:
    """A sentence, a labelled line or a long one is not part of an address."""
    return bool(re.search(r"[?!]|:\s|:$", text)) or len(text.split()) > 8 or _is_label(text)


_QUANTITY_TIMES = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*[x×]\s", re.I)


def _number_for(spec: dict[str, Any], raw: str) -> int | float | None:
    value = parse_number(raw)
    if value is None or _type(spec) == "integer" and not value.is_integer():
        return None
    return int(value) if _type(spec) == "integer" else value


def _wordy(text: str) -> bool:
    return len(re.findall(r"[^\W\d_]", text)) >= 3


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
_LEGAL_FORM_ONLY = re.compile(r"[\s,.]*(?:" + _COMPANY_SUFFIX.pattern + r")[\s,.]*")
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
_NOT_A_NAME = re.compile(r"\b(?:reg|regn|registration|gst|vat|tax|tel|fax|phone|www|http|invoice|receipt)\b|@", re.I)


def _name_like(text: str) -> bool:
    """Whether ``text`` can be a person's or a company's name: letters more than digits, no label, no
    registration/phone/web line, not a legal form alone (``GmbH``)."""
    letters = len(re.findall(r"[^\W\d_]", text))
    digits = len(re.findall(r"\d", text))
    return (
        letters >= 3
        and letters > 2 * digits
        and not _is_label(text)
        and not _NOT_A_NAME.search(text)
        and not _LEGAL_FORM_ONLY.fullmatch(text)
    )


def _party(raw: str) -> str | None:
    """A name as printed, without the address that often follows it on the same line."""
    raw = re.sub(r"<[^>]*@[^>]*>", "", raw).replace('"', "")  # "Name <address@host>" -> Name
    raw = re.sub(r"\s*\((?=[^)]*\d)[^)]*\)", "", raw)  # "99 SPEED MART S/B (519537-X)": a registration number
    raw = re.sub(r"\s+\(?\d{4,}-?[A-Z]\b.*$", "", raw)  # "KING'S CONFECTIONERY S/B 273500-U (KSB)"
    parts = re.split(r"\s+[-–|·•]\s+|,\s*(?=\d|P\.?\s?O\.?\s?Box)|\s{2,}", raw.strip(), flags=re.IGNORECASE)
    text = parts[0].strip(" ,;:")
    if not re.search(r"[^\W\d_]", text) or text.startswith("(") or text.endswith(":"):
        return None  # a remark or another label, not a name
    return text


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


def extract(document: Document, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, float]]:
    """Values for the schema's properties found in ``document``, and a confidence per JSON Pointer."""
    extractor = Extractor(document, schema)
    root = plain_schema(schema, schema)
    content = extractor.object(root) if root else {}
    return content, extractor.confidences
