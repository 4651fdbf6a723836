"""Builds the real-document development corpus for ``bench/extraction.py`` from public datasets.

    .venv/bin/python bench/real_corpus.py --sroie SROIE_DIR --zugferd ZUGFERD_DIR

``SROIE_DIR`` is a checkout of ICDAR 2019 SROIE task 3 data (``data/img/NNN.jpg`` scanned
receipts, ``data/key/NNN.json`` with company/date/total as printed), e.g. the MIT-licensed
github.com/zzzDavid/ICDAR-2019-SROIE. ``ZUGFERD_DIR`` is a checkout of the Apache-2.0
github.com/ZUGFeRD/corpus: real ERP-made German and French invoices, PDFs with Factur-X/ZUGFeRD
XML embedded and plain CII/UBL XML, whose labels are read here from that XML by path.

Writes ``examples/real/`` (ignored by git: the images are not ours to ship, and CI never needs
them): the files, two schemas and ``manifest.json`` in the format of ``examples/manifest.json``.
Held out for blind evaluation and never copied: SROIE 000–099, the corpus's ``XML-Rechnung/FX``
and ``ZUGFeRDv1``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import defusedxml.ElementTree as SafeXML
import pypdfium2

OUT = Path(__file__).resolve().parent.parent / "examples" / "real"
HELD_OUT_SROIE = range(0, 100)
HELD_OUT_ZUGFERD = ("XML-Rechnung/FX", "ZUGFeRDv1")

RECEIPT_SCHEMA = {
    "type": "object",
    "properties": {
        "company": {"type": "string", "description": "the shop or company that issued the receipt"},
        "date": {"type": "string", "format": "date"},
        "total": {"type": "number", "description": "the amount paid"},
    },
}
INVOICE_SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "vendor": {"type": "object", "properties": {"name": {"type": "string"}}},
        "totalAmount": {"type": "number"},
        "currency": {"type": "string"},
    },
}


def sroie_entries(root: Path) -> list[dict]:
    entries = []
    for key_file in sorted((root / "data" / "key").glob("*.json")):
        image = root / "data" / "img" / f"{key_file.stem}.jpg"
        if int(key_file.stem) in HELD_OUT_SROIE or not image.exists():
            continue
        key = json.loads(key_file.read_text())
        date, total = _sroie_date(key.get("date", "")), _number(key.get("total", ""))
        if not key.get("company") or date is None or total is None:
            continue  # a few keys lack a field or print a date no reading can make ISO
        target = OUT / "receipts" / image.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, target)
        expected = {"company": key["company"], "date": date, "total": total}
        entries.append(_entry(f"real/receipts/{image.name}", "jpeg", "receipt", expected, ["receipt", "sroie", "ocr"]))
    return entries


def _sroie_date(text: str) -> str | None:
    """Malaysian receipts print day first: ``02/12/2017``, ``25-12-18``, ``2018-01-15``, ``18 Mar 2018``."""
    text = text.strip()
    for layout in (
        "%d/%m/%Y",
        "%d-%m-%Y",
        "%d.%m.%Y",
        "%d/%m/%y",
        "%d-%m-%y",
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%d %b %Y",
        "%d-%b-%Y",
        "%d %B %Y",
        "%d-%b-%y",
        "%b %d, %Y",
    ):
        try:
            return datetime.strptime(text, layout).date().isoformat()
        except ValueError:
            continue
    return None


def _number(text: str) -> float | None:
    cleaned = re.sub(r"[^\d.]", "", text.replace(",", ""))
    try:
        return float(cleaned)
    except ValueError:
        return None


def zugferd_entries(root: Path) -> list[dict]:
    entries = []
    for path in sorted([*root.rglob("*.pdf"), *root.rglob("*.xml")]):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(HELD_OUT_ZUGFERD) or "/fail/" in f"/{relative}" or "fatturaPA" in relative:
            continue
        xml = path.read_bytes() if path.suffix == ".xml" else _embedded_xml(path)
        expected = _invoice_labels(xml) if xml else None
        if not expected:
            continue
        target = OUT / "invoices" / relative.replace("/", "__").replace(" ", "_")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        tags = ["invoice", "zugferd", "einvoice"]
        entries.append(_entry(f"real/invoices/{target.name}", path.suffix[1:], "invoice", expected, tags))
    return entries


def _embedded_xml(path: Path) -> bytes | None:
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        for index in range(pdf.count_attachments()):
            attachment = pdf.get_attachment(index)
            if attachment.get_name().lower().endswith(".xml"):
                return bytes(attachment.get_data())
    finally:
        pdf.close()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _first(element, *paths: str) -> str | None:
    """The text of the first element found along any of the local-name paths (``A/B/C``)."""
    for path in paths:
        found = [element]
        for step in path.split("/"):
            found = [child for parent in found for child in parent if _local(child.tag) == step]
        for candidate in found:
            if (candidate.text or "").strip():
                return candidate.text.strip()
    return None


def _invoice_labels(xml: bytes) -> dict | None:
    try:
        root = SafeXML.fromstring(xml)
    except Exception:
        return None
    if _local(root.tag) in ("Invoice", "CreditNote"):  # UBL
        number = _first(root, "ID")
        date = _first(root, "IssueDate")
        vendor = _first(
            root,
            "AccountingSupplierParty/Party/PartyLegalEntity/RegistrationName",
            "AccountingSupplierParty/Party/PartyName/Name",
        )
        total = _first(root, "LegalMonetaryTotal/TaxInclusiveAmount")
        currency = _first(root, "DocumentCurrencyCode")
    else:  # CII: Factur-X, ZUGFeRD 2, XRechnung CII
        document = "ExchangedDocument"
        transaction = "SupplyChainTradeTransaction"
        settlement = f"{transaction}/ApplicableHeaderTradeSettlement"
        number = _first(root, f"{document}/ID")
        raw_date = _first(root, f"{document}/IssueDateTime/DateTimeString")
        date = f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:8]}" if raw_date and len(raw_date) >= 8 else None
        vendor = _first(root, f"{transaction}/ApplicableHeaderTradeAgreement/SellerTradeParty/Name")
        total = _first(root, f"{settlement}/SpecifiedTradeSettlementHeaderMonetarySummation/GrandTotalAmount")
        currency = _first(root, f"{settlement}/InvoiceCurrencyCode")
    if not (number and date and vendor and total):
        return None
    return {
        "invoiceNumber": number,
        "invoiceDate": date,
        "vendor": {"name": vendor},
        "totalAmount": float(total),
        "currency": currency,
    }


def _entry(file: str, input_type: str, schema: str, expected: dict, tags: list[str]) -> dict:
    expected = {key: value for key, value in expected.items() if value is not None}
    return {
        "file": file,
        "inputType": input_type,
        "schema": f"real/{schema}.schema.json",
        "tags": tags,
        "expected": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sroie", type=Path, help="a checkout with data/img and data/key")
    parser.add_argument("--zugferd", type=Path, help="a checkout of github.com/ZUGFeRD/corpus")
    args = parser.parse_args()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    (OUT / "receipt.schema.json").write_text(json.dumps(RECEIPT_SCHEMA, indent=2))
    (OUT / "invoice.schema.json").write_text(json.dumps(INVOICE_SCHEMA, indent=2))
    entries = (sroie_entries(args.sroie) if args.sroie else []) + (
        zugferd_entries(args.zugferd) if args.zugferd else []
    )
    (OUT / "manifest.json").write_text(json.dumps(entries, indent=1, ensure_ascii=False))
    kinds = {tag: sum(tag in e["tags"] for e in entries) for tag in ("receipt", "invoice")}
    print(f"{len(entries)} documents in {OUT}: {kinds}")


if __name__ == "__main__":
    main()
