"""A JSON Schema proposed from one sample document, without a model: what the document labels, its
tables, and what its e-invoice states — named so that the builtin extractor finds them again.

- **Labelled values**: ``Label: value`` in a cell, a label cell and the value cell beside it, a label
  alone on its line (``Customer:``, ``Bill To``) over its value, a known label that opens a cell
  (``VAT Reg. No. GB 284 1934 27``). JSON documents give their keys, XML documents their element paths.
- **Tables**: a header line (short cells, no figures) over rows with figures, up to a totals line,
  becomes an array of objects whose properties are the header cells; items listed without a header
  (a till receipt's) become an array of ``description``/``amount`` (and ``quantity``) objects.
- **E-invoices** (UBL, CII in XML or inside a PDF): the fields the record states, under the names the
  extractor reads them by (``invoiceNumber``, ``totalAmount``, ``lineItems``…).

Each property is named in camelCase from its label's words (``No.``, ``#`` and ``n°`` read as
``number``), its ``title`` is the label without its figures (the extractor looks for a property's
own words, name and title, before its concept's labels), its ``description`` the label as printed.
Its type comes from the value: a number for amounts and quantities, ``format: date`` for dates (the
extractor writes them as ISO 8601), ``email``, ``uri``, a boolean for yes/no, a string for the rest
and for whatever a label calls a number, ID or code (``Account No. 72671`` is no quantity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from quarry.documents.einvoice import EInvoice
from quarry.documents.layout import Cell, document_lines
from quarry.documents.model import Document
from quarry.providers.llm.builtin.einvoices import einvoice_of
from quarry.providers.llm.builtin.labels import ALL_LABELS, is_label
from quarry.providers.llm.builtin.names import COMPANY_SUFFIX, name_like, party_name
from quarry.providers.llm.builtin.reader import GENERIC_KEY_WORDS, SEPARATORS, STRUCTURED_TYPES
from quarry.providers.llm.builtin.values import best_amount, currency_in, fold, numbers_in, parse_date
from quarry.providers.llm.builtin.vocabulary import concept_for, words
from quarry.providers.llm.inference import MAX_PROPERTIES, DocumentType, SchemaAnalysis, file_type

MAX_TABLES = 5
MAX_DEPTH = 4  # objects in objects, for JSON documents
_NUMBER_WORDS = {"no": "number", "nr": "number", "num": "number", "nbr": "number", "nro": "number"}
_IDENTIFIER_LAST = frozenset(
    "number no nr num id code ref reference iban bic swift zip postcode plz sku ustid gstin siret ein ssn".split()
)
_IDENTIFIER_ANY = frozenset("phone tel telephone fax mobile iban vatin".split())
MAX_CELL_CHARS = 200
"""A label or a value is read from at most this much of a cell: the patterns below take more than
linear time on some long runs (a cell of 40,000 parentheses), and no label is longer."""
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_RATE = re.compile(r"\(?\s*[-+]?\d+(?:[.,]\d+)?\s*%\s*\)?|\([^)]*\)")  # a rate, or a note in parentheses
_COLON_PAIR = re.compile(r"^([^\W\d_][^:]{0,40}?)\s*:\s*(?!//)(\S.*)$")
_TABLE_END = re.compile(
    r"^(sub ?total|total|grand total|amount due|balance|tax|vat|mwst|tva|zwischensumme|summe|gesamt|net|shipping)\b"
)
_QUANTITY_TIMES = re.compile(r"\s*(\d+(?:[.,]\d+)?)\s*[x×]\s", re.I)
_LINE_ROLES = {"description", "sku"}, {"line_amount", "unit_price", "quantity"}

# What an e-invoice states, under the names the extractor reads it by: (record field, property, schema).
_EINVOICE_PROPERTIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("invoice_number", "invoiceNumber", {"type": "string", "description": "Invoice number"}),
    ("issue_date", "invoiceDate", {"type": "string", "format": "date", "description": "Invoice date"}),
    ("due_date", "dueDate", {"type": "string", "format": "date", "description": "Payment due date"}),
    ("currency", "currency", {"type": "string", "description": "Currency of the amounts (ISO 4217 code)"}),
    ("seller_name", "sellerName", {"type": "string", "description": "Seller"}),
    ("seller_vat_id", "sellerVatId", {"type": "string", "description": "Seller's VAT identifier"}),
    ("buyer_name", "buyerName", {"type": "string", "description": "Buyer"}),
    ("net_total", "subtotal", {"type": "number", "description": "Sum of the lines' net amounts"}),
    ("tax_total", "taxAmount", {"type": "number", "description": "Tax total"}),
    ("grand_total", "totalAmount", {"type": "number", "description": "Invoice total, tax included"}),
    ("amount_due", "amountDue", {"type": "number", "description": "Amount due for payment"}),
)
_EINVOICE_LINE: dict[str, dict[str, Any]] = {
    "description": {"type": "string", "description": "Item name or description"},
    "quantity": {"type": "number", "description": "Invoiced quantity"},
    "unitPrice": {"type": "number", "description": "Net price of one unit"},
    "amount": {"type": "number", "description": "Line net amount"},
}

# Kinds of document, by the words that say so (the first lines count most).
_KINDS: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("credit_note", "A credit note", re.compile(r"\b(credit note|gutschrift|avoir|nota de credito)\b")),
    ("bill_of_lading", "A bill of lading", re.compile(r"\b(bill of lading|b/l (no|number)|shipper|consignee)\b")),
    ("purchase_order", "A purchase order", re.compile(r"\b(purchase order)\b")),
    (
        "invoice",
        "An invoice",
        re.compile(r"\b(invoice|\w*rechnung\w*|factur\w*|fattura|faktura|bill no|amount due|balance due)\b"),
    ),
    (
        "order_confirmation",
        "An order confirmation",
        re.compile(r"\b(order confirmation|your order|order (no|number|#)|bestellung|auftragsbestatigung)\b"),
    ),
    (
        "receipt",
        "A receipt",
        re.compile(
            r"\b(receipt|kassenbon|quittung|beleg|ticket|change|cash|thank you|merci|vielen dank|ruckgeld|bar|"
            r"tips?|visa|mastercard|paypal|summe|especes|rendu)\b"
        ),
    ),
    ("statement", "A statement", re.compile(r"\b(statement of account|account statement|kontoauszug)\b")),
)


@dataclass
class _Pair:
    label: str  # as printed
    value: str
    line: int = 0  # where it is printed


@dataclass
class _Proposal:
    """Properties collected in order, each name once."""

    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    concepts: set[str] = field(default_factory=set)  # concepts of the scalar properties so far
    labelled: list[str] = field(default_factory=list)  # labels as printed, for the description
    tables: list[tuple[str, int]] = field(default_factory=list)  # (header as printed, rows), for the description

    def add(self, name: str | None, spec: dict[str, Any]) -> bool:
        if not name or name in self.properties or len(self.properties) >= MAX_PROPERTIES:
            return False
        self.properties[name] = spec
        if spec.get("type") not in ("array", "object"):
            concept = concept_for(name, spec.get("title"), in_table=False)
            if concept is not None:
                self.concepts.add(concept.name)
        return True


# --- names and types -----------------------------------------------------------------------------


def property_name(label: str) -> str | None:
    """``Invoice No.`` -> ``invoiceNumber``, ``Unit Price`` -> ``unitPrice``, ``Rechnungs-Nr.`` ->
    ``rechnungsNumber``: the label's words (without accents) in camelCase; None for a label without any."""
    text = re.sub(r"[#№]|(?<![^\W\d_])n[°º]", " number ", label)
    parts = [part for part in words(text) if part.isalnum()]
    if len(parts) > 1:
        parts = [_NUMBER_WORDS.get(part, part) for part in parts]
    parts = [part for index, part in enumerate(parts) if not index or part != parts[index - 1]][:6]
    if not parts:
        return None
    if not parts[0][0].isalpha():
        parts.insert(0, "field")
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


def clean_label(label: str) -> str:
    """The label without a colon, a rate or a figure in parentheses: ``VAT (20%):`` -> ``VAT``."""
    return _RATE.sub(" ", label).strip(" \t:=-–—|").strip() or label.strip(" \t:")


def _is_date(value: str) -> bool:
    if len(value) > 40 or currency_in(value) or not parse_date(value):
        return False
    masked = re.sub(r"[^\W\d_]+", lambda m: "" if parse_date(f"1 {m.group(0)} 2000") else m.group(0), value)
    return len(re.findall(r"[^\W\d_]", masked)) <= 6


def _is_figure(value: str) -> bool:
    """A number, an amount with its currency, or a quantity with its unit: ``1,234.56 EUR``, ``12.5 kg``."""
    if best_amount(value) is None or len(value) > 40:
        return False
    letters = re.sub(r"(?<![A-Za-z])[A-Z]{3}(?![A-Za-z])", "", value)  # a currency code
    return len(re.findall(r"[^\W\d_]", letters)) <= 3 and len(numbers_in(value)) <= 2


def _identifier_label(label_words: list[str]) -> bool:
    return bool(label_words) and (label_words[-1] in _IDENTIFIER_LAST or bool(_IDENTIFIER_ANY & set(label_words)))


def value_schema(label: str, values: list[str]) -> dict[str, Any]:
    """The type (and format) of what ``values`` show under ``label``: a string unless every value is
    a date, a figure, an email address, a URL or a yes/no."""
    label_words = words(re.sub(r"[#№]", " number ", label))
    concept = concept_for(" ".join(label_words), None, in_table=False)
    shown = [value.strip() for value in values if value and value.strip()]
    if not shown:
        return {"type": "string"}
    if all(_EMAIL.fullmatch(value.strip("<> ")) for value in shown):  # "Ann <ann@x.org>" is a name as well
        return {"type": "string", "format": "email"}
    if all(_URL.match(value) for value in shown):
        return {"type": "string", "format": "uri"}
    if concept is not None and concept.kind == "date" or all(_is_date(value) for value in shown):
        if all(parse_date(value) for value in shown):
            return {"type": "string", "format": "date"}
    if _identifier_label(label_words) or concept is not None and concept.kind in ("identifier", "currency", "party"):
        return {"type": "string"}
    if all(_is_figure(value) for value in shown):
        return {"type": "number"}
    if all(fold(value).strip(" .") in ("yes", "no", "true", "false", "ja", "nein", "oui", "non") for value in shown):
        return {"type": "boolean"}
    return {"type": "string"}


def _scalar(label: str, values: list[str]) -> dict[str, Any]:
    """A labelled value's property: typed by its values, titled by its label, described as printed."""
    title = clean_label(label)
    return {**value_schema(title, values), "title": title, "description": label.strip(" \t:")}


# --- labelled values -----------------------------------------------------------------------------


def _label_like(text: str) -> bool:
    """Short, starting with a letter, no figure but a rate: ``Invoice No.``, ``VAT (20%)``, ``Bill To``."""
    cleaned = clean_label(text)
    return (
        0 < len(cleaned) <= 40
        and cleaned[:1].isalpha()
        and len(cleaned.split()) <= 6
        and not re.search(r"\d", cleaned)
        and ":" not in cleaned
        and "," not in cleaned
        and not COMPANY_SUFFIX.search(cleaned)  # a company's name, not a label
        and len(re.findall(r"[^\W\d_]", cleaned)) >= 2
    )


def _value_like(label: str, value: str) -> bool:
    """Whether ``value`` (beside ``label``) can be its value: not another label; a figure, a date, an
    address or a code — or anything at all beside a label the vocabulary knows (``Vendor``)."""
    value = value.strip()
    if not value or value.endswith(":") or is_label(value) or _COLON_PAIR.match(value):
        return False
    return bool(re.search(r"\d", value)) or bool(_EMAIL.search(value)) or is_label(clean_label(label))


def _known_prefix(text: str) -> _Pair | None:
    """A cell that opens with a label the vocabulary knows and goes on with a figure or a code:
    ``VAT Reg. No. GB 284 1934 27``."""
    folded = fold(text)
    found = words(text)
    for size in range(min(5, len(found)), 1, -1):  # one word opening a cell is too often just a word
        label = " ".join(found[:size])
        if label not in ALL_LABELS or len(label) < 3:
            continue
        pattern = r"\W*".join(re.escape(word) for word in found[:size])
        match = re.match(r"\W*" + pattern + r"\W*?(?=\s|$|[:#.])[.:#\s]*", folded)
        if match:
            rest = text[match.end() :].strip()
            if rest and re.search(r"\d", rest) and not is_label(rest):
                return _Pair(text[: match.end()].strip(), rest)
    return None


def _party_label(text: str) -> bool:
    """A label of a party or an address, which prints its value under it: ``Bill To``, ``Consignee``."""
    concept = concept_for(text, None, in_table=False) if is_label(text) else None
    return concept is not None and concept.kind in ("party", "address")


def _below(lines: list[list[Cell]], i: int, skip: set[int]) -> str | None:
    """The first cell of the line under line ``i``, when it can be a value (no label of its own)."""
    k = i + 1
    if k >= len(lines) or k in skip:
        return None
    text = lines[k][0].text.strip()
    if not text or text.endswith(":") or is_label(text) or _COLON_PAIR.match(text):
        return None
    return text


def labelled_pairs(lines: list[list[Cell]], skip: set[int]) -> list[_Pair]:
    """Every label with the value printed beside or under it, in reading order, outside ``skip``."""
    pairs: list[_Pair] = []
    for i, line in enumerate(lines):
        if i in skip:
            continue
        j = 0
        while j < len(line):
            text = line[j].text.strip()
            following = line[j + 1].text.strip() if j + 1 < len(line) else None
            colon = _COLON_PAIR.match(text)
            if colon and _label_like(colon.group(1)) and not _URL.match(text):
                pairs.append(_Pair(colon.group(1), colon.group(2).strip(), i))
                j += 1
                continue
            if text.endswith(":") and _label_like(text[:-1]):
                value = following if following is not None else _below(lines, i, skip)
                if value and (following is None or _value_like(text[:-1], value)):
                    pairs.append(_Pair(text[:-1], value, i))
                    j += 2
                    continue
                j += 1
                continue
            if following is not None and _label_like(text) and _value_like(text, following):
                pairs.append(_Pair(text, following, i))
                j += 2
                continue
            if len(line) == 1 and (value := _below(lines, i, skip)) and _alone_over(text, value, lines, i):
                pairs.append(_Pair(text, value, i))  # "Bill To" over the customer's name
                j += 1
                continue
            prefixed = _known_prefix(text)
            if prefixed is not None:
                pairs.append(_Pair(prefixed.label, prefixed.value, i))
            j += 1
    return [pair for pair in pairs if re.search(r"\w", pair.value)]


def _alone_over(label: str, value: str, lines: list[list[Cell]], i: int) -> bool:
    """A label alone on its line over its value: a party's or an address's (``Bill To``), or any known
    label over a code alone on its line (``B/L No.`` over ``NSCU320194306``)."""
    if _party_label(label):
        return True
    return is_label(clean_label(label)) and len(lines[i + 1]) == 1 and bool(re.search(r"\d", value))


def label_rows(lines: list[list[Cell]], skip: set[int]) -> list[_Pair]:
    """Labels side by side over their values (forms: ``Consignee | Carrier`` over two names,
    ``Supplier: | Customer:`` over two companies): each value under its label."""
    pairs: list[_Pair] = []
    for i in range(len(lines) - 1):
        line, below = lines[i], lines[i + 1]
        if i in skip or i + 1 in skip or len(line) < 2 or not all(_label_like(cell.text) for cell in line):
            continue
        if all(_label_like(cell.text) for cell in below) and not any(name_like(c.text) for c in below):
            continue  # labels over labels
        values = _aligned(below, line)
        found = [
            _Pair(cell.text.strip().rstrip(":"), value, i)
            for cell, value in zip(line, values, strict=True)
            if value.strip() and not is_label(value)
        ]
        if len(found) * 2 >= len(line):
            pairs += found
            skip.update((i, i + 1))
    return pairs


# --- tables --------------------------------------------------------------------------------------


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]  # cells aligned to the header ("" where a row has none)
    lines: list[int] = field(default_factory=list)  # the document lines it spans (header included)


def _header_like(line: list[Cell]) -> bool:
    return len(line) >= 2 and all(
        not re.search(r"\d", cell.text)
        and len(cell.text.split()) <= 5
        and len(cell.text) <= 40
        and not cell.text.rstrip().endswith(":")
        and "," not in cell.text
        and not COMPANY_SUFFIX.search(cell.text)
        and re.search(r"[^\W\d_]", cell.text)
        for cell in line
    )


def _ends_table(line: list[Cell]) -> bool:
    has_figure = any(numbers_in(cell.text) for cell in line)
    return has_figure and bool(_TABLE_END.match(fold(line[0].text).strip(SEPARATORS)))


def _is_row(line: list[Cell]) -> bool:
    return len(line) >= 2 and any(numbers_in(cell.text) for cell in line)


def _aligned(row: list[Cell], header: list[Cell]) -> list[str]:
    """The row's cells under the header's columns: by position where known, by order when the counts
    agree, else text on the left and figures in the rightmost columns."""
    out = [""] * len(header)
    if row[0].left is not None and header[0].left is not None:
        for cell in row:
            overlaps = [min(cell.right, h.right) - max(cell.left, h.left) for h in header]  # type: ignore[operator]
            best = max(range(len(header)), key=lambda k: overlaps[k])
            if overlaps[best] <= 0:
                centre = (cell.left + cell.right) / 2  # type: ignore[operator]
                best = min(range(len(header)), key=lambda k: abs((header[k].left + header[k].right) / 2 - centre))  # type: ignore[operator]
            out[best] = f"{out[best]} {cell.text}".strip()
        return out
    if len(row) >= len(header):
        return [cell.text for cell in row[: len(header)]]
    offset = len(header) - len(row)
    for index, cell in enumerate(row):
        out[index if index == 0 else index + offset] = cell.text
    return out


def line_tables(lines: list[list[Cell]]) -> list[_Table]:
    """Header lines over rows with figures, up to a totals line or a line that is neither a row nor a
    wrapped description; a "table" whose rows open with labels (``Invoice Number | INV-1``) is a list
    of labelled values, not a table."""
    tables: list[_Table] = []
    i = 0
    while i < len(lines) and len(tables) < MAX_TABLES:
        if not _header_like(lines[i]):
            i += 1
            continue
        rows: list[int] = []
        spanned = [i]
        k = i + 1
        while k < len(lines) and not _ends_table(lines[k]):
            if _is_row(lines[k]):
                rows.append(k)
            elif re.search(r"\w", " ".join(c.text for c in lines[k])) and not (
                rows and len(lines[k]) == 1 and k + 1 < len(lines) and _is_row(lines[k + 1])
            ):
                break  # neither a row, a rule (----) nor a wrapped line between rows
            spanned.append(k)
            k += 1
        labelled = sum(1 for r in rows if is_label(clean_label(lines[r][0].text)) or lines[r][0].text.endswith(":"))
        header = lines[i]
        table = _Table([c.text for c in header], [_aligned(lines[r], header) for r in rows], spanned)
        if rows and labelled * 2 < len(rows) and (len(rows) > 1 or _item_roles(table)):
            tables.append(table)
            i = k
            continue
        i += 1
    return tables


def _item_roles(table: _Table) -> bool:
    """Whether the table's header names line items: a description or article, and a price, an amount
    or a quantity."""
    roles = set()
    for heading in table.header:
        concept = concept_for(property_name(heading) or "", heading, in_table=True)
        if concept is not None:
            roles.add(concept.name)
    return bool(roles & _LINE_ROLES[0]) and bool(roles & _LINE_ROLES[1])


def listed_items(lines: list[list[Cell]], skip: set[int]) -> _Table | None:
    """Items listed without a header, as on till receipts (``WORK GLOVES L   12.99``, or a name over
    ``2 x 5.49   10.98``): the longest run of two or more, each closed by a totals line."""
    best: list[int] = []
    run: list[int] = []
    times = False
    for i, line in enumerate(lines):
        first = line[0].text.strip()
        if i in skip or _ends_table(line):
            best, run = (run if len(run) > len(best) else best), []
            continue
        if not re.search(r"\w", " ".join(c.text for c in line)):
            continue  # a rule: ---- or ====
        amount = best_amount(line[-1].text) if len(line) >= 2 else None
        wordy = len(re.findall(r"[^\W\d_]", first)) >= 3
        quantity = _QUANTITY_TIMES.match(first)
        if amount and (quantity or wordy and not is_label(clean_label(first)) and not _COLON_PAIR.match(first)):
            run.append(i)
            times = times or bool(quantity)
        elif len(line) == 1 and wordy and not is_label(first):
            run.append(i)  # a name whose figures follow on the next line
        else:
            best, run = (run if len(run) > len(best) else best), []
    best = run if len(run) > len(best) else best
    rows: list[list[str]] = []
    for i in best:
        if len(lines[i]) < 2:
            continue
        first = lines[i][0].text
        quantity = _QUANTITY_TIMES.match(first)
        named = quantity and i - 1 in best and len(lines[i - 1]) == 1
        description = lines[i - 1][0].text if named else first
        rows.append([description, quantity.group(1) if quantity else "", lines[i][-1].text])
    if len(rows) < 2:
        return None
    if times:
        return _Table(["Description", "Quantity", "Amount"], rows, best)
    return _Table(["Description", "Amount"], [[row[0], row[2]] for row in rows], best)


def _table_property(table: _Table, title: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """An array of objects, one property per header cell, each typed by the column's values."""
    properties: dict[str, dict[str, Any]] = {}
    for index, heading in enumerate(table.header):
        name = property_name(heading)
        if not name:
            continue
        if name in properties:
            name = f"{name}{index + 1}"
        values = [row[index] for row in table.rows if index < len(row) and row[index].strip()]
        properties[name] = {**value_schema(heading, values), "title": heading.strip(), "description": heading.strip()}
    if len(properties) < 2:
        return None
    is_items = _item_roles(table)
    name = "lineItems" if is_items else (property_name(title) if title else None) or "rows"
    headers = " | ".join(cell.strip() for cell in table.header)
    kind = "The line items" if is_items else "The rows of the table"
    spec = {
        "type": "array",
        "description": f"{kind} (columns: {headers})",
        "items": {"type": "object", "properties": properties},
    }
    return name, spec


# --- structured documents ------------------------------------------------------------------------


def _json_schema(value: Any, key: str, depth: int) -> dict[str, Any] | None:
    """The schema of a JSON value: objects by their keys, lists of objects by the union of their keys
    (their values as scalars), scalars by what they show."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return None
        properties: dict[str, dict[str, Any]] = {}
        for item_key, item in list(value.items())[:MAX_PROPERTIES]:
            name = property_name(str(item_key))
            spec = _json_schema(item, str(item_key), depth + 1) if name else None
            if name and spec is not None and name not in properties:
                properties[name] = spec
        if not properties:
            return None
        return (
            {"type": "object", "title": key, "description": key, "properties": properties}
            if key
            else {
                "type": "object",
                "properties": properties,
            }
        )
    if isinstance(value, list):
        objects = [item for item in value[:200] if isinstance(item, dict)]
        if objects:
            header = list(
                dict.fromkeys(str(k) for item in objects for k, v in item.items() if not isinstance(v, dict | list))
            )
            rows = [["" if item.get(k) is None else _text(item.get(k)) for k in header] for item in objects]
            found = _table_property(_Table(header, rows), key)
            return {**found[1], "title": key} if found else None
        scalars = [_text(item) for item in value[:200] if item is not None and not isinstance(item, dict | list)]
        if not scalars:
            return None
        return {"type": "array", "title": key, "description": key, "items": value_schema(key, scalars)}
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "boolean", "title": key, "description": key}
    if isinstance(value, int | float):
        kind = "string" if _identifier_label(words(key)) else "number"
        return {"type": kind, "title": key, "description": key}
    return {**value_schema(key, [str(value)]), "title": key, "description": key}


def _text(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def _xml_properties(document: Document, proposal: _Proposal) -> None:
    """An XML document's element paths: each that occurs once is a property named by its last elements
    (``Seller Name``: a generic last element keeps its parent); repeated elements are the tables."""
    counts: dict[str, int] = {}
    for key, _ in document.fields:
        counts[key] = counts.get(key, 0) + 1
    for key, value in document.fields:
        if counts[key] > 1:
            continue
        elements = key.split()
        label = elements[-1]
        if len(elements) > 1 and set(words(label)) <= GENERIC_KEY_WORDS:
            label = f"{elements[-2]} {label}"
        label = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", label)
        if proposal.add(property_name(label), _scalar(label, [value])):
            proposal.labelled.append(label)
    for table in document.tables[:MAX_TABLES]:
        _add_table(proposal, _Table(table.rows[0], table.rows[1:]), table.name)


def _add_table(proposal: _Proposal, table: _Table, title: str | None = None) -> None:
    found = _table_property(table, title)
    if found is None:
        return
    name, spec = found
    if name in proposal.properties:
        name = f"{name}{len(proposal.properties) + 1}"
    if proposal.add(name, spec):
        proposal.tables.append((" | ".join(table.header), len(table.rows)))


# --- the proposal --------------------------------------------------------------------------------


def _einvoice_properties(record: EInvoice, proposal: _Proposal) -> None:
    for attribute, name, spec in _EINVOICE_PROPERTIES:
        if getattr(record, attribute):
            proposal.add(name, dict(spec))
    if record.lines:
        proposal.add(
            "lineItems",
            {
                "type": "array",
                "description": "The invoice lines",
                "items": {"type": "object", "properties": {k: dict(v) for k, v in _EINVOICE_LINE.items()}},
            },
        )
        proposal.tables.append(("the e-invoice's lines", len(record.lines)))


def letterhead(lines: list[list[Cell]]) -> str | None:
    """A name in the document's first lines (its issuer's letterhead), as the extractor finds it."""
    for line in lines[:12]:
        text = line[0].text.strip()
        if ":" in text or re.search(r"\d", text) or not re.search(r"[^\W\d_]{2}", text) or is_label(text):
            continue
        name = party_name(text)
        if name and name_like(name) and len(name.split()) <= 6:
            return name
    return None


def _document_types(document: Document, lines: list[list[Cell]], record: EInvoice | None) -> list[DocumentType]:
    if record is not None:
        return [DocumentType("invoice", "An invoice, with its structured e-invoice data (UBL or CII)")]
    head = fold(" ".join(cell.text for line in lines[:15] for cell in line)).replace("_", " ")
    body = fold(document.text[:20_000]).replace("_", " ")
    best: tuple[int, str, str] | None = None
    for name, description, pattern in _KINDS:
        score = 3 * len(pattern.findall(head)) + len(pattern.findall(body))
        if score and (best is None or score > best[0]):
            best = (score, name, description)
    if best is None:
        return [DocumentType("document", f"A {file_type(document.input_type)} of no kind this reader recognises")]
    return [DocumentType(best[1], best[2])]


def _describe(document: Document, kind: DocumentType, proposal: _Proposal, record: EInvoice | None) -> str:
    pages = len(document.pages)
    what = {"pdf": "PDF", "docx": "Word document", "xlsx": "Excel workbook", "xls": "Excel workbook", "csv": "CSV file",
            "json": "JSON document", "xml": "XML document", "html": "HTML page", "email": "email",
            "text": "text file"}.get(document.input_type, f"{document.input_type.upper()} image")  # fmt: skip
    scanned = " (read by OCR)" if any(page.ocr for page in document.pages) else ""
    size = f" of {pages} pages" if pages > 1 else ""
    article = "an" if what[0] in "aeiouAEIOU" or what.startswith(("HTML", "XML")) else "a"
    sentences = [f"{kind.description} in {article} {what}{size}{scanned}."]
    if proposal.labelled:
        shown = ", ".join(proposal.labelled[:8]) + (", …" if len(proposal.labelled) > 8 else "")
        sentences.append(f"It labels {len(proposal.labelled)} values ({shown}).")
    for header, rows in proposal.tables[:3]:
        sentences.append(f"It has a table of {rows} {'row' if rows == 1 else 'rows'} ({header}).")
    if record is not None:
        sentences.append(f"It carries a {record.syntax.upper()} e-invoice, whose values the schema names.")
    return " ".join(sentences)


def propose(document: Document) -> SchemaAnalysis:
    """The builtin proposal for ``document``: a schema and what the document is."""
    lines = [[replace(cell, text=cell.text[:MAX_CELL_CHARS]) for cell in line] for line in document_lines(document)]
    record = einvoice_of(document)
    proposal = _Proposal()
    if record is not None:
        _einvoice_properties(record, proposal)
    if document.input_type == "json" and isinstance(document.data, dict | list):
        root = _json_schema(document.data if isinstance(document.data, dict) else {"items": document.data}, "", 0)
        for name, spec in (root or {}).get("properties", {}).items():
            proposal.add(name, spec)
            proposal.labelled.append(str(spec.get("title") or name))
    elif document.input_type in STRUCTURED_TYPES:
        if record is None:
            _xml_properties(document, proposal)
    else:
        _text_properties(document, lines, proposal, has_lines=record is not None and bool(record.lines))
    kind = _document_types(document, lines, record)[0]
    title = kind.name.replace("_", " ").capitalize() if kind.name != "document" else "Document"
    schema = {
        "type": "object",
        "title": title,
        "description": f"The data of {kind.description[0].lower() + kind.description[1:]}, as a sample showed it",
        "properties": proposal.properties,
    }
    if not proposal.properties:
        schema["properties"] = {"text": {"type": "string", "description": "The document's text (no labelled value "
                                         "or table was found)"}}  # fmt: skip
    attachments = [a for a in document.attachments if a.document is not None]
    return SchemaAnalysis(
        schema=schema,
        description=_describe(document, kind, proposal, record),
        document_types=[kind],
        is_multi_document=len(attachments) > 1,
    )


def _text_properties(document: Document, lines: list[list[Cell]], proposal: _Proposal, *, has_lines: bool) -> None:
    """A document read as lines: the letterhead, the labelled values, the dates, currency and tables."""
    tables = line_tables(lines)
    skip = {i for table in tables for i in table.lines}
    listed = listed_items(lines, skip) if not tables else None
    if listed is not None:
        skip.update(listed.lines)
    pairs = label_rows(lines, skip)  # marks the lines it reads as read
    pairs = sorted(pairs + labelled_pairs(lines, skip), key=lambda pair: pair.line)
    stated = set(proposal.concepts)  # what the e-invoice fills already: its labels in the text are not asked twice
    concepts = [_concept_of(pair.label) for pair in pairs]
    if "issuer" not in concepts and "issuer" not in stated and letterhead(lines) is not None:
        proposal.add("issuer", {"type": "string", "description": "Who issued the document (its letterhead)"})
    for pair, concept in zip(pairs, concepts, strict=True):
        if concept is not None and concept in stated:
            continue
        if proposal.add(property_name(clean_label(pair.label)), _scalar(pair.label, [pair.value])):
            proposal.labelled.append(pair.label.strip())
    specs = proposal.properties.values()
    if not any(s.get("format") == "date" for s in specs) and _first_date(lines, skip):
        proposal.add("date", {"type": "string", "format": "date", "description": "The document's date (unlabelled)"})
    amounts = any(s.get("type") == "number" for s in proposal.properties.values())
    if amounts and "currency" not in proposal.concepts and _currency(lines):
        proposal.add("currency", {"type": "string", "description": "Currency of the amounts (ISO 4217 code)"})
    if not has_lines:
        for table in tables:
            _add_table(proposal, table)
        if listed is not None:
            _add_table(proposal, listed)


def _concept_of(label: str) -> str | None:
    concept = concept_for(property_name(clean_label(label)) or "", clean_label(label), in_table=False)
    return concept.name if concept is not None else None


def _first_date(lines: list[list[Cell]], skip: set[int]) -> str | None:
    for i, line in enumerate(lines):
        if i not in skip:
            date = parse_date(" ".join(cell.text for cell in line))
            if date:
                return date
    return None


def _currency(lines: list[list[Cell]]) -> str | None:
    for line in lines:
        for cell in line:
            for *_, currency in numbers_in(cell.text):
                if currency:
                    return currency
    return None
