"""What a person's or a company's name looks like: legal forms (GmbH, Ltd, Sdn Bhd, S/B…), the check that
tells a name from a label, a registration number or a phone line, and a name cut out of the line that prints it.

Separate from the parties because the label reader needs these checks too (a party's value under its label
must look like a name), and the reader sits below the parties.
"""

from __future__ import annotations

import re

from quarry.providers.llm.builtin.labels import is_label

# A legal form ends a company's name. Forms that are no ordinary word match anywhere, in any case; those
# that are ordinary words ("limited", "company") or short ("as", "ab", "co", "sa", "kg") only at the end of
# the name, and the short ones only as written by companies (AS, AB, Co.) — "shopping with us as always"
# and "Net weight 12 kg" are not company names.
_NAME_END = r"(?=\s*(?:$|[,;)&|]|\s[-–]\s))"
COMPANY_SUFFIX = re.compile(
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

LEGAL_FORM_ONLY = re.compile(r"[\s,.]*(?:" + COMPANY_SUFFIX.pattern + r")[\s,.]*")
_NOT_A_NAME = re.compile(r"\b(?:reg|regn|registration|gst|vat|tax|tel|fax|phone|www|http|invoice|receipt)\b|@", re.I)


def name_like(text: str) -> bool:
    """Whether ``text`` can be a person's or a company's name: letters more than digits, no label, no
    registration/phone/web line, not a legal form alone (``GmbH``)."""
    letters = len(re.findall(r"[^\W\d_]", text))
    digits = len(re.findall(r"\d", text))
    return (
        letters >= 3
        and letters > 2 * digits
        and not is_label(text)
        and not _NOT_A_NAME.search(text)
        and not LEGAL_FORM_ONLY.fullmatch(text)
    )


def party_name(raw: str) -> str | None:
    """A name as printed, without the address that often follows it on the same line."""
    raw = re.sub(r"<[^>]*@[^>]*>", "", raw).replace('"', "")  # "Name <address@host>" -> Name
    raw = re.sub(r"\s*\((?=[^)]*\d)[^)]*\)", "", raw)  # "99 SPEED MART S/B (519537-X)": a registration number
    raw = re.sub(r"\s+\(?\d{4,}-?[A-Z]\b.*$", "", raw)  # "KING'S CONFECTIONERY S/B 273500-U (KSB)"
    parts = re.split(r"\s+[-–|·•]\s+|,\s*(?=\d|P\.?\s?O\.?\s?Box)|\s{2,}", raw.strip(), flags=re.IGNORECASE)
    text = parts[0].strip(" ,;:")
    if not re.search(r"[^\W\d_]", text) or text.startswith("(") or text.endswith(":"):
        return None  # a remark or another label, not a name
    return text
