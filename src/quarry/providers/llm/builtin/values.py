"""Values as documents print them, parsed into what a JSON Schema asks for.

Numbers in local formats (``1,234.56``, ``1.234,56``, ``1 234,56``, ``1'234.56``), amounts with
their currency, dates in numeric and written forms in several languages, booleans.
"""

from __future__ import annotations

import datetime
import math
import re
import unicodedata

CURRENCY_SYMBOLS = {
    "US$": "USD", "A$": "AUD", "C$": "CAD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "R$": "BRL",
    "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "Rs.": "INR", "Rs": "INR", "RM": "MYR", "₩": "KRW",
    "₽": "RUB", "zł": "PLN", "Kč": "CZK", "₺": "TRY", "R": "ZAR", "Fr.": "CHF", "kr": "SEK",
}  # fmt: skip
CURRENCY_CODES = {
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "INR", "CNY", "HKD", "SGD", "SEK", "NOK",
    "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "TRY", "BRL", "MXN", "ZAR", "KRW", "RUB", "AED", "SAR",
    "ILS", "THB", "MYR", "IDR", "PHP", "VND", "NGN", "KES", "EGP", "ARS", "CLP", "COP", "PEN", "TWD",
}  # fmt: skip
_CODE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(CURRENCY_CODES)) + r")(?![A-Za-z])")
_SYMBOL = re.compile(
    r"(?<![A-Za-z])("
    + "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True) if not s.isalpha())
    + r"|Rs\.?(?=\s?-?\d)|RM(?=\s?-?\d)|kr(?=\s?\d|\b)|zł|Kč)"
)
# A figure starts after no word character, or right after a currency written in letters ("RM4.00", "USD12").
_START = "(?:(?<![\\w.,])|" + "|".join(f"(?<=\\b{prefix})" for prefix in ("RM", "Rs", *sorted(CURRENCY_CODES))) + ")"
_NUMBER = re.compile(
    _START + r"[-−(]?\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?(?![\d])"  # Indian grouping: 2,03,661.28
    r"|" + _START + r"[-−(]?\d{1,3}(?:[ ,.'’ ]\d{3})+(?:[.,]\d{1,2})?(?![\d])"
    r"|" + _START + r"[-−(]?\d+(?:[.,]\d+)?"
)

# A minus sign apart from its figure: at the start of the text or after a colon, before an optional currency.
_DETACHED_SIGN = re.compile(
    r"(?:^|[:=(])\s*[-−]\s?(?:"
    + "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True) if not s.isalpha())
    + "|"
    + "|".join(sorted(CURRENCY_CODES))
    + r")?\s?$"
)

MONTHS = {
    # English, German, French, Spanish, Italian, Dutch, Portuguese — full names and common abbreviations
    1: "january jan januar janvier enero gennaio januari janeiro jän",
    2: "february feb februar février fevrier febrero febbraio februari fevereiro",
    3: "march mar märz maerz mars marzo maart março",
    4: "april apr avril abril aprile",
    5: "may mai mayo maggio mei maio",
    6: "june jun juni juin junio giugno junho",
    7: "july jul juli juillet julio luglio julho",
    8: "august aug août aout agosto augustus",
    9: "september sep sept septembre septiembre settembre setembro",
    10: "october oct oktober octobre octubre ottobre oktober outubro okt",
    11: "november nov novembre noviembre novembre novembro",
    12: "december dec dezember décembre decembre diciembre dicembre dezembro dez",
}
_MONTH_OF = {name: number for number, names in MONTHS.items() for name in names.split()}
_MONTH_WORD = "|".join(sorted(map(re.escape, _MONTH_OF), key=len, reverse=True))
_DAY = r"(\d{1,2})(?:st|nd|rd|th|er)?"
_DATE_PATTERNS = [
    ("ymd", re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")),
    ("dmy_named", re.compile(rf"(?<!\d){_DAY}[.\-/]?\s*(?:de\s+)?({_MONTH_WORD})[.,\-/]?\s*(?:de\s+)?(\d{{4}})", re.I)),
    ("mdy_named", re.compile(rf"\b({_MONTH_WORD})\.?\s+{_DAY}\s*,?\s*(\d{{4}})", re.I)),
    # A receipt's OCR glues the time to the year ("03/02/201815:28"): a year followed by a time is a year.
    ("numeric", re.compile(
        r"(?<![\d.])(\d{1,2})([-/.])(\d{1,2})\2((?:19|20)\d{2}(?=\d{1,2}:\d{2})|\d{4}(?!\d)|\d{2}(?!\d))")),
    ("compact", re.compile(r"^\s*((?:19|20)\d{2})(\d{2})(\d{2})\s*$")),  # UN/CEFACT format 102: 20240408
]  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents, one character for one, so positions in the folded text hold in the original."""
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    folded = "".join(c for c in unicodedata.normalize("NFKD", char.casefold()) if not unicodedata.combining(c))
    return folded if len(folded) == 1 else char.lower()[:1] or char


def parse_number(raw: str) -> float | None:
    """The number a token shows, whatever the locale's separators."""
    text = raw.strip().replace("−", "-")
    negative = text.startswith("-") or text.startswith("(")
    digits = re.sub(r"[^\d.,' ’ ]", "", text).replace(" ", "").replace(" ", "").replace("'", "").replace("’", "")
    if not digits or not any(c.isdigit() for c in digits):
        return None
    if "," in digits and "." in digits:
        decimal = "." if digits.rfind(".") > digits.rfind(",") else ","
        digits = digits.replace("," if decimal == "." else ".", "").replace(decimal, ".")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = (
            f"{head.replace(',', '')}.{tail}"
            if len(tail) != 3 or head.count(",") == 0 and (len(head) > 3 or _zero_group(head))
            else digits.replace(",", "")
        )
        if digits.count(".") > 1:
            digits = digits.replace(".", "", digits.count(".") - 1)
    elif digits.count(".") > 1 or re.fullmatch(r"\d{1,3}(\.\d{3})+", digits) and not _zero_group(digits):
        digits = digits.replace(".", "")
    try:
        value = float(digits)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None  # 400 digits overflow a float: not a figure a document states
    return -value if negative else value


def _zero_group(digits: str) -> bool:
    """``0.125``, ``0,001``: a leading group of ``0`` is not a thousands group — nobody writes 125 as 0.125."""
    return re.match(r"0+(?:[.,]|$)", digits) is not None


def numbers_in(text: str) -> list[tuple[float, int, int, str | None]]:
    """Every number in ``text`` outside dates: (value, start, end, currency written beside it).

    A minus sign set apart from the figure (``- 50.00 EUR``, ``-$50.00``, ``Refund: - 50.00``) counts
    where it opens the text or follows a colon; after a word it is a dash (``Coffee - 3.50``)."""
    masked = text
    for _, pattern in _DATE_PATTERNS:
        masked = pattern.sub(lambda m: " " * len(m.group(0)), masked)
    found = []
    for match in _NUMBER.finditer(masked):
        value = parse_number(match.group(0))
        if value is not None:
            if (
                value > 0
                and match.group(0)[0].isdigit()
                and _DETACHED_SIGN.search(text, max(0, match.start() - 16), match.start())
            ):
                value = -value
            found.append((value, match.start(), match.end(), _currency_beside(text, match.start(), match.end())))
    return found


_MONEY_WORDS = frozenset(
    "total totals amount amounts due balance sum subtotal sub price prices net gross tax vat gst paid pay payable "
    "cash card change tip fee fees cost costs charge charges refund deposit in of to at summe betrag gesamt brutto "
    "netto montant importe prix preis".split()
)


def _currency_beside(text: str, start: int, end: int) -> str | None:
    """The currency written beside the figure ``text[start:end]``: a symbol within a few characters, or
    an ISO code right before or after it. A code inside a run of capitals is a product's name, not a
    currency: ``BLUE PEN 2.00`` is a pen, ``TOTAL PEN 2.00`` is in soles, ``2 PHP BOOKS`` are books."""
    window_start = max(0, start - 4)
    window = text[window_start : end + 5]
    symbol = _SYMBOL.search(window)
    for code in _CODE.finditer(window):
        at, until = window_start + code.start(), window_start + code.end()
        if (
            until <= start
            and text[until:start].strip(" \u00a0-−(") == ""
            and not _in_name(text[max(0, at - 40) : at], "before")
        ):
            break
        if at >= end and text[end:at].strip(" \u00a0") == "" and not _in_name(text[until : until + 40], "after"):
            break
    else:
        code = None
    if code and (not symbol or code.start() <= symbol.start()):
        return code.group(1)
    return _symbol_currency(symbol.group(1)) if symbol else None


def _in_name(beside: str, side: str) -> bool:
    """Whether the word next to a currency code (before it or after it) is a capitalised word of a name."""
    word = (
        re.search(r"([A-Za-z]{2,})[ \u00a0]+$", beside)
        if side == "before"
        else re.match(r"[ \u00a0]+([A-Za-z]{2,})", beside)
    )
    return word is not None and word.group(1).isupper() and word.group(1).lower() not in _MONEY_WORDS


def best_amount(text: str) -> tuple[float, str | None] | None:
    """The amount a value cell states: the number written with a currency or cents, else the last one."""
    found = numbers_in(text)
    if not found:
        return None
    raw = {id(f): text[f[1] : f[2]] for f in found}

    def score(entry: tuple[float, int, int, str | None]) -> tuple[int, int]:
        has_cents = bool(re.search(r"[.,]\d{2}$", raw[id(entry)]))
        is_percent = text[entry[2] : entry[2] + 2].strip().startswith("%")
        return (2 * (entry[3] is not None) + has_cents - 4 * is_percent, entry[1])

    best = max(found, key=score)
    if text[best[2] : best[2] + 2].strip().startswith("%"):
        return None  # a rate, not an amount
    return best[0], best[3]


def currency_in(text: str) -> str | None:
    """The ISO 4217 code of the first currency code or symbol in ``text``."""
    code = _CODE.search(text)
    symbol = _SYMBOL.search(text)
    if code and (not symbol or code.start() <= symbol.start()):
        return code.group(1)
    return _symbol_currency(symbol.group(1)) if symbol else None


def _symbol_currency(token: str) -> str | None:
    return (
        CURRENCY_SYMBOLS.get(token)
        or CURRENCY_SYMBOLS.get(token.rstrip("."))
        or ("INR" if token.startswith("Rs") else None)
    )


def parse_date(raw: str, *, day_first: bool = True) -> str | None:
    """The first date in ``raw`` as ISO 8601 (``YYYY-MM-DD``)."""
    best: tuple[int, str] | None = None
    for kind, pattern in _DATE_PATTERNS:
        match = pattern.search(raw)
        if not match:
            continue
        iso = _iso(kind, match.groups(), day_first)
        if iso and (best is None or match.start() < best[0]):
            best = (match.start(), iso)
    return best[1] if best else None


def date_order_hint(text: str) -> bool:
    """Whether ``a/b/yyyy`` dates in this document are day-first: decided by an unambiguous one."""
    for match in _DATE_PATTERNS[3][1].finditer(text):
        first, second = int(match.group(1)), int(match.group(3))
        if first > 12 >= second:
            return True
        if second > 12 >= first:
            return False
    return not ("$" in text and "/" in text)  # US documents write month first


def _iso(kind: str, groups: tuple[str, ...], day_first: bool) -> str | None:
    try:
        if kind in ("ymd", "compact"):
            year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
        elif kind == "dmy_named":
            day, month, year = int(groups[0]), _MONTH_OF[fold(groups[1]).rstrip(".")], int(groups[2])
        elif kind == "mdy_named":
            month, day, year = _MONTH_OF[fold(groups[0]).rstrip(".")], int(groups[1]), int(groups[2])
        else:
            first, second, year = int(groups[0]), int(groups[2]), int(groups[3])
            year += 2000 if year < 100 else 0
            day_first = day_first or groups[1] == "."  # dotted dates are day-first everywhere
            day, month = (first, second) if (day_first or second > 12) and first <= 31 else (second, first)
            if month > 12:
                day, month = month, day
        return datetime.date(year, month, day).isoformat()
    except (ValueError, KeyError):
        return None


def parse_bool(raw: str) -> bool | None:
    word = fold(raw).strip(" .:")
    if word in ("yes", "true", "y", "1", "ja", "oui", "si", "sí", "x", "✓", "paid"):
        return True
    if word in ("no", "false", "n", "0", "nein", "non", "unpaid"):
        return False
    return None
