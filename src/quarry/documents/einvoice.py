"""Structured e-invoices: UBL 2.1 (Invoice, CreditNote) and UN/CEFACT CII (Factur-X, ZUGFeRD 1.x and
2.x; XRechnung is either), read into one small record of the exact values they state.

An e-invoice states what a printed invoice only shows: the extractor takes these values first and
reads the text only for what the record lacks. Elements are found by local name, so that one path
serves every version of a syntax (ZUGFeRD 1's namespaces and element names differ from CII D16B's
only where a path lists alternatives). Nothing here raises: XML that is not an e-invoice, is
malformed or over ``MAX_EINVOICE_XML_BYTES`` gives None, and the document is read as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeXML

from quarry.documents.limits import MAX_EINVOICE_LINES, MAX_EINVOICE_XML_BYTES

UBL = (
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
)
CII = (
    "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",  # Factur-X, ZUGFeRD 2.x, XRechnung CII
    "urn:ferd:CrossIndustryDocument:invoice:1p0",  # ZUGFeRD 1.x
)
# The names under which Factur-X, ZUGFeRD and XRechnung embed their XML in a PDF.
EMBEDDED_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")


@dataclass
class InvoiceLine:
    description: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    amount: str | None = None


@dataclass
class EInvoice:
    """Values as the XML writes them (amounts as decimal strings, dates as ISO ``YYYY-MM-DD``)."""

    syntax: str  # ubl | cii
    invoice_number: str | None = None
    issue_date: str | None = None
    due_date: str | None = None
    currency: str | None = None
    seller_name: str | None = None
    seller_vat_id: str | None = None
    buyer_name: str | None = None
    net_total: str | None = None  # the sum of the lines' net amounts
    tax_total: str | None = None
    grand_total: str | None = None
    amount_due: str | None = None
    lines: list[InvoiceLine] = field(default_factory=list)


def _local(tag: object) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _namespace(tag: object) -> str:
    text = str(tag)
    return text[1 : text.index("}")] if text.startswith("{") else ""


def _all(element, path: str) -> list:
    """Descendants along ``path`` of local names (``A/B|C/D``: B or C at the second step)."""
    found = [element]
    for step in path.split("/"):
        names = step.split("|")
        found = [child for parent in found for child in parent if _local(child.tag) in names]
    return found


def _text(element, path: str, **attributes: str) -> str | None:
    """The text of the first element on ``path`` whose attributes include ``attributes``."""
    for candidate in _all(element, path):
        if all(candidate.get(key) == value for key, value in attributes.items()):
            text = (candidate.text or "").strip()
            if text:
                return text
    return None


def _iso(text: str | None) -> str | None:
    """CII dates are ``YYYYMMDD`` (format 102); UBL's are already ISO."""
    if text and re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text if text and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None


def from_element(root) -> EInvoice | None:
    """The e-invoice an XML tree is, by its root's namespace; None when it is none."""
    namespace = _namespace(root.tag)
    if namespace in UBL:
        return _ubl(root)
    if namespace in CII:
        return _cii(root)
    return None


def from_bytes(data: bytes) -> EInvoice | None:
    """The e-invoice in an XML file (an attachment of a PDF); None when it is none, malformed or too large."""
    if len(data) > MAX_EINVOICE_XML_BYTES:
        return None
    try:
        root = SafeXML.fromstring(data)
    except Exception:  # defusedxml raises several kinds, all meaning "not acceptable XML"
        return None
    return from_element(root)


def _ubl(root) -> EInvoice:
    supplier, customer = "AccountingSupplierParty/Party", "AccountingCustomerParty/Party"
    totals = "LegalMonetaryTotal"
    currency = _text(root, "DocumentCurrencyCode")
    record = EInvoice(
        "ubl",
        invoice_number=_text(root, "ID"),
        issue_date=_iso(_text(root, "IssueDate")),
        due_date=_iso(_text(root, "DueDate") or _text(root, "PaymentMeans/PaymentDueDate")),
        currency=currency,
        seller_name=_text(root, f"{supplier}/PartyLegalEntity/RegistrationName")
        or _text(root, f"{supplier}/PartyName/Name"),
        seller_vat_id=_text(root, f"{supplier}/PartyTaxScheme/CompanyID"),
        buyer_name=_text(root, f"{customer}/PartyLegalEntity/RegistrationName")
        or _text(root, f"{customer}/PartyName/Name"),
        net_total=_text(root, f"{totals}/LineExtensionAmount"),
        # An invoice may state its tax in a second currency too: the document currency's is the one.
        tax_total=_text(root, "TaxTotal/TaxAmount", currencyID=currency)
        if currency
        else _text(root, "TaxTotal/TaxAmount"),
        grand_total=_text(root, f"{totals}/TaxInclusiveAmount"),
        amount_due=_text(root, f"{totals}/PayableAmount"),
    )
    for line in _all(root, "InvoiceLine|CreditNoteLine")[:MAX_EINVOICE_LINES]:
        record.lines.append(
            InvoiceLine(
                description=_text(line, "Item/Name") or _text(line, "Item/Description"),
                quantity=_text(line, "InvoicedQuantity|CreditedQuantity"),
                unit_price=_text(line, "Price/PriceAmount"),
                amount=_text(line, "LineExtensionAmount"),
            )
        )
    return record


def _cii(root) -> EInvoice:
    # CII D16B (Factur-X, ZUGFeRD 2) | ZUGFeRD 1 (CrossIndustryDocument)
    transaction = "SupplyChainTradeTransaction|SpecifiedSupplyChainTradeTransaction"
    agreement = f"{transaction}/ApplicableHeaderTradeAgreement|ApplicableSupplyChainTradeAgreement"
    settlement = f"{transaction}/ApplicableHeaderTradeSettlement|ApplicableSupplyChainTradeSettlement"
    totals = f"{settlement}/SpecifiedTradeSettlementHeaderMonetarySummation|SpecifiedTradeSettlementMonetarySummation"
    header = "ExchangedDocument|HeaderExchangedDocument"
    currency = _text(root, f"{settlement}/InvoiceCurrencyCode")
    tax_path = f"{totals}/TaxTotalAmount"
    record = EInvoice(
        "cii",
        invoice_number=_text(root, f"{header}/ID"),
        issue_date=_iso(_text(root, f"{header}/IssueDateTime/DateTimeString")),
        due_date=_iso(_text(root, f"{settlement}/SpecifiedTradePaymentTerms/DueDateDateTime/DateTimeString")),
        currency=currency,
        seller_name=_text(root, f"{agreement}/SellerTradeParty/Name"),
        seller_vat_id=_text(root, f"{agreement}/SellerTradeParty/SpecifiedTaxRegistration/ID", schemeID="VA"),
        buyer_name=_text(root, f"{agreement}/BuyerTradeParty/Name"),
        net_total=_text(root, f"{totals}/LineTotalAmount"),
        tax_total=(_text(root, tax_path, currencyID=currency) if currency else None) or _text(root, tax_path),
        grand_total=_text(root, f"{totals}/GrandTotalAmount"),
        amount_due=_text(root, f"{totals}/DuePayableAmount"),
    )
    agreement, delivery, settlement = (
        "SpecifiedLineTradeAgreement|SpecifiedSupplyChainTradeAgreement",
        "SpecifiedLineTradeDelivery|SpecifiedSupplyChainTradeDelivery",
        "SpecifiedLineTradeSettlement|SpecifiedSupplyChainTradeSettlement",
    )
    for line in _all(root, f"{transaction}/IncludedSupplyChainTradeLineItem")[:MAX_EINVOICE_LINES]:
        record.lines.append(
            InvoiceLine(
                description=_text(line, "SpecifiedTradeProduct/Name"),
                quantity=_text(line, f"{delivery}/BilledQuantity"),
                unit_price=_text(line, f"{agreement}/NetPriceProductTradePrice/ChargeAmount"),
                amount=_text(
                    line,
                    f"{settlement}/SpecifiedTradeSettlementLineMonetarySummation|"
                    "SpecifiedTradeSettlementMonetarySummation/LineTotalAmount",
                ),
            )
        )
    return record
