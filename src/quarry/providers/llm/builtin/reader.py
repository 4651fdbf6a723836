"""The label reader: a document read once, and the values it prints beside or below a label.

A label is found in a cell (for JSON and XML, in a key path), and the values that may be its own are taken from
the rest of the cell, the next cell, the line below, a column's totals row or the address block under it, each
with a confidence (``Found``). Separate because every kind of property is read through it: it knows labels and
layout, not what the schema asks for.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from quarry.documents.layout import document_lines
from quarry.documents.model import Document
from quarry.providers.llm.builtin.labels import ALL_LABELS, is_label
from quarry.providers.llm.builtin.names import LEGAL_FORM_ONLY, name_like
from quarry.providers.llm.builtin.values import currency_in, date_order_hint, fold, numbers_in
from quarry.providers.llm.builtin.vocabulary import words

SEPARATORS = " \t:#=-–—.|"


@dataclass
class Found:
    value: Any
    confidence: float


def _label_pattern(label: str) -> re.Pattern[str]:
    tokens = [re.escape(token) for token in re.split(r"[\s_\-./]+", fold(label)) if token]
    end = r"(?![a-z0-9])" if fold(label)[-1:].isalnum() else ""  # "n°" and "#" may touch their value
    return re.compile(r"(?<![\w])" + r"[\s_\-./]*".join(tokens) + end)


class Reader:
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
                    weight = 1.0 if not cell[: match.start()].strip(SEPARATORS) else 0.8
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
        if rest and LEGAL_FORM_ONLY.fullmatch(rest.strip()):
            values.append((line[j].text.strip(), 0.9))
        elif rest:
            values.append((rest, 0.95))
        if j + 1 < len(line):
            values.append((line[j + 1].text, 0.9))
        for k in range(i + 1, min(i + 5, len(self.lines))):
            below = self._aligned(i, j, k)
            if below is not None and ":" not in below and not _labelled(below) and name_like(below):
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


STRUCTURED_TYPES = ("json", "xml")

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


def _contains(key: list[str], rival: list[str], start: int, length: int) -> bool:
    """Whether ``rival`` occurs in ``key`` covering the span ``[start, start + length)`` and longer than it."""
    if len(rival) <= length:
        return False
    for at in range(max(0, start + length - len(rival)), min(start, len(key) - len(rival)) + 1):
        if key[at : at + len(rival)] == rival:
            return True
    return False


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
    return any(" ".join(found[:k]) in ALL_LABELS for k in range(1, len(found) + 1))


def _ends_block(text: str) -> bool:
    """A sentence, a labelled line or a long one is not part of an address."""
    return bool(re.search(r"[?!]|:\s|:$", text)) or len(text.split()) > 8 or is_label(text)
