"""E-invoices (UBL 2.1, CII / Factur-X / ZUGFeRD, XRechnung) are read from their structured data:
the values they state exactly win over what the text seems to say."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from quarry.documents import einvoice
from quarry.documents.parse import parse
from tests import documents
from tests.calls_client import events_of, single, submit, wait_for
from tests.helpers import create_function

SCHEMA = {
    "type": "object",
    "properties": {
        **{name: spec for name, spec in documents.SCHEMA["properties"].items() if name not in ("issuer", "currency")},
        "vendorName": {"type": "string"},
    },
}
"""tests/documents.py's invoice schema, naming the seller ``vendorName`` (a name e-invoices do not use)."""


def cii_xml(number: str = "FX-2024-0042", total: str = "1190.00", seller: str = "Lieferant GmbH") -> bytes:
    """A Factur-X EN 16931 invoice: two lines, 19 % VAT."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:GuidelineSpecifiedDocumentContextParameter>
      <ram:ID>urn:cen.eu:en16931:2017</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>{number}</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">20240315</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>Beratung</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>150.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="HUR">6.0000</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>900.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>2</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>Service</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>100.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="C62">1.0000</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>100.00</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
    <ram:ApplicableHeaderTradeAgreement>
      <ram:SellerTradeParty>
        <ram:Name>{seller}</ram:Name>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="FC">201/113/40209</ram:ID></ram:SpecifiedTaxRegistration>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">DE123456789</ram:ID></ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty><ram:Name>Kunde AG</ram:Name></ram:BuyerTradeParty>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery/>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradePaymentTerms>
        <ram:DueDateDateTime><udt:DateTimeString format="102">20240414</udt:DateTimeString></ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>1000.00</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>1000.00</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">190.00</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>{total}</ram:GrandTotalAmount>
        <ram:DuePayableAmount>{total}</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
""".encode()


UBL_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0</cbc:CustomizationID>
  <cbc:ID>UBL-7781</cbc:ID>
  <cbc:IssueDate>2024-06-01</cbc:IssueDate>
  <cbc:DueDate>2024-07-01</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>SEK</cbc:DocumentCurrencyCode>
  <cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyName><cbc:Name>Nordic Trade</cbc:Name></cac:PartyName>
    <cac:PartyTaxScheme><cbc:CompanyID>SE556677889901</cbc:CompanyID>
      <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
    <cac:PartyLegalEntity><cbc:RegistrationName>Nordic Trade AB</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty><cac:Party>
    <cac:PartyLegalEntity><cbc:RegistrationName>Buyer Oy</cbc:RegistrationName></cac:PartyLegalEntity>
  </cac:Party></cac:AccountingCustomerParty>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">43.75</cbc:TaxAmount></cac:TaxTotal>
  <cac:TaxTotal><cbc:TaxAmount currencyID="SEK">500.00</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="SEK">2000.00</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="SEK">2000.00</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="SEK">2500.00</cbc:TaxInclusiveAmount>
    <cbc:PrepaidAmount currencyID="SEK">500.00</cbc:PrepaidAmount>
    <cbc:PayableAmount currencyID="SEK">2000.00</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
  <cac:InvoiceLine>
    <cbc:ID>1</cbc:ID>
    <cbc:InvoicedQuantity unitCode="EA">4</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="SEK">2000.00</cbc:LineExtensionAmount>
    <cac:Item><cbc:Description>Chairs, oak</cbc:Description><cbc:Name>Chair</cbc:Name></cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="SEK">500.00</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>
</Invoice>
"""


def _summary(record: einvoice.EInvoice) -> tuple[tuple[str | None, ...], ...]:
    """A record's dates and IDs, parties, totals and lines, as the XML states them."""
    return (
        (record.invoice_number, record.issue_date, record.due_date, record.currency),
        (record.seller_name, record.seller_vat_id, record.buyer_name),
        (record.net_total, record.tax_total, record.grand_total, record.amount_due),
        *((line.description, line.quantity, line.unit_price, line.amount) for line in record.lines),
    )


def test_cii_maps_to_the_exact_values():
    record = einvoice.from_bytes(cii_xml())
    assert record is not None and record.syntax == "cii"
    assert _summary(record) == (
        ("FX-2024-0042", "2024-03-15", "2024-04-14", "EUR"),
        ("Lieferant GmbH", "DE123456789", "Kunde AG"),
        ("1000.00", "190.00", "1190.00", "1190.00"),
        ("Beratung", "6.0000", "150.00", "900.00"),
        ("Service", "1.0000", "100.00", "100.00"),
    )


def test_ubl_maps_to_the_exact_values():
    record = einvoice.from_bytes(UBL_XML)
    assert record is not None and record.syntax == "ubl"
    # The legal name over the trading name; the tax in the document's currency, not the tax currency's.
    assert _summary(record) == (
        ("UBL-7781", "2024-06-01", "2024-07-01", "SEK"),
        ("Nordic Trade AB", "SE556677889901", "Buyer Oy"),
        ("2000.00", "500.00", "2500.00", "2000.00"),
        ("Chair", "4", "500.00", "2000.00"),
    )


def test_ubl_credit_note_lines():
    credit = (
        UBL_XML.replace(b"xsd:Invoice-2", b"xsd:CreditNote-2")
        .replace(b"<Invoice ", b"<CreditNote ")
        .replace(b"</Invoice>", b"</CreditNote>")
        .replace(b"InvoiceLine>", b"CreditNoteLine>")
        .replace(b"InvoicedQuantity", b"CreditedQuantity")
    )
    record = einvoice.from_bytes(credit)
    assert record is not None and record.invoice_number == "UBL-7781"
    assert record.lines[0].quantity == "4"


def test_zugferd_1_is_read():
    xml = """<rsm:CrossIndustryDocument xmlns:rsm="urn:ferd:CrossIndustryDocument:invoice:1p0"
        xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
        xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15">
      <rsm:HeaderExchangedDocument><ram:ID>Z1-99</ram:ID>
        <ram:IssueDateTime><udt:DateTimeString format="102">20130305</udt:DateTimeString></ram:IssueDateTime>
      </rsm:HeaderExchangedDocument>
      <rsm:SpecifiedSupplyChainTradeTransaction>
        <ram:ApplicableSupplyChainTradeAgreement>
          <ram:SellerTradeParty><ram:Name>Alt GmbH</ram:Name></ram:SellerTradeParty>
        </ram:ApplicableSupplyChainTradeAgreement>
        <ram:ApplicableSupplyChainTradeSettlement>
          <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
          <ram:SpecifiedTradeSettlementMonetarySummation>
            <ram:GrandTotalAmount currencyID="EUR">529.87</ram:GrandTotalAmount>
          </ram:SpecifiedTradeSettlementMonetarySummation>
        </ram:ApplicableSupplyChainTradeSettlement>
        <ram:IncludedSupplyChainTradeLineItem>
          <ram:SpecifiedSupplyChainTradeDelivery><ram:BilledQuantity>20.0000</ram:BilledQuantity></ram:SpecifiedSupplyChainTradeDelivery>
          <ram:SpecifiedSupplyChainTradeSettlement><ram:SpecifiedTradeSettlementMonetarySummation>
            <ram:LineTotalAmount>198.00</ram:LineTotalAmount>
          </ram:SpecifiedTradeSettlementMonetarySummation></ram:SpecifiedSupplyChainTradeSettlement>
          <ram:SpecifiedTradeProduct><ram:Name>Trennblätter A4</ram:Name></ram:SpecifiedTradeProduct>
        </ram:IncludedSupplyChainTradeLineItem>
      </rsm:SpecifiedSupplyChainTradeTransaction>
    </rsm:CrossIndustryDocument>""".encode()
    record = einvoice.from_bytes(xml)
    assert record is not None
    assert (record.invoice_number, record.issue_date, record.seller_name, record.grand_total) == (
        "Z1-99",
        "2013-03-05",
        "Alt GmbH",
        "529.87",
    )
    assert (record.lines[0].description, record.lines[0].quantity, record.lines[0].amount) == (
        "Trennblätter A4",
        "20.0000",
        "198.00",
    )


@pytest.mark.parametrize(
    "data",
    [b"<Invoice><ID>1</ID></Invoice>", b"<rsm:CrossIndustryInvoice", b"not xml at all", b"<a/>" * 10],
)
def test_other_or_broken_xml_is_no_einvoice(data):
    assert einvoice.from_bytes(data) is None


def test_an_xml_input_keeps_its_text_and_gains_the_record():
    document = parse("xml", cii_xml())
    assert document.einvoice is not None and document.einvoice.invoice_number == "FX-2024-0042"
    assert "FX-2024-0042" in document.text


def invoice_pdf(lines: list[str], attachment: bytes | None = None, name: str = "factur-x.xml") -> bytes:
    """A one-page PDF with ``lines`` as its visible text, and ``attachment`` embedded as Factur-X does."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    for line in lines:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    if attachment is not None:
        pdf.embed_file(bytes=attachment, basename=name, mime_type="text/xml", associated_file_relationship="Data")
    return bytes(pdf.output())


PRINTED = [
    "Lieferant GmbH",
    "Invoice No: FX-2024-0042",
    "Invoice Date: 15.03.2024",
    "Total: 1190.00 EUR",
]


@pytest.mark.parametrize("name", ["factur-x.xml", "ZUGFeRD-invoice.xml", "xrechnung.xml", "invoice-data.xml"])
def test_a_pdf_carries_its_embedded_einvoice(name):
    document = parse("pdf", invoice_pdf(PRINTED, cii_xml(), name))
    assert document.einvoice is not None and document.einvoice.grand_total == "1190.00"
    assert "Invoice No: FX-2024-0042" in document.text  # the page is still read


def test_a_pdf_prefers_the_standard_name_over_other_xml():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 8, "Invoice")
    pdf.embed_file(bytes=cii_xml(number="DECOY-1"), basename="copy.xml")
    pdf.embed_file(bytes=cii_xml(number="REAL-2"), basename="factur-x.xml")
    document = parse("pdf", bytes(pdf.output()))
    assert document.einvoice is not None and document.einvoice.invoice_number == "REAL-2"


@pytest.mark.parametrize("attachment", [None, b"<rsm:CrossIndustryInvoice xmlns:rsm='broken", b"<a>not an invoice</a>"])
def test_a_pdf_without_a_readable_einvoice_is_text_only(attachment):
    document = parse("pdf", invoice_pdf(PRINTED, attachment))
    assert document.einvoice is None
    assert "Total: 1190.00 EUR" in document.text


def test_an_oversized_embedded_xml_is_ignored(monkeypatch):
    from quarry.documents.readers import pdf

    monkeypatch.setattr(pdf, "MAX_EINVOICE_XML_BYTES", len(cii_xml()) - 1)
    assert parse("pdf", invoice_pdf(PRINTED, cii_xml())).einvoice is None
    monkeypatch.setattr(pdf, "MAX_EINVOICE_XML_BYTES", len(cii_xml()))
    assert parse("pdf", invoice_pdf(PRINTED, cii_xml())).einvoice is not None


# --- through the API ---------------------------------------------------------------------------------


def _extract(api: httpx.Client, data: bytes, input_type: str) -> dict[str, Any]:
    """The transform event of one call of an invoice-schema transform function on ``data``."""
    if api.get("/v2/functions/einvoices").status_code == 404:
        create_function(
            api,
            {"functionName": "einvoices", "type": "transform", "outputSchemaName": "Invoice", "outputSchema": SCHEMA},
        )
    (call,) = submit(api, {"functionName": "einvoices", "input": single(data, input_type)})
    finished = wait_for(api, call["callID"])
    assert finished["status"] == "completed", finished
    (event,) = [e for e in events_of(api, call["callID"]) if e["eventType"] == "transform"]
    return event


CII_CONTENT = {
    "invoiceNumber": "FX-2024-0042",
    "invoiceDate": "2024-03-15",
    "totalAmount": 1190.0,
    "vendorName": "Lieferant GmbH",
    "lineItems": [
        {"description": "Beratung", "quantity": 6.0, "unitPrice": 150.0, "amount": 900.0},
        {"description": "Service", "quantity": 1.0, "unitPrice": 100.0, "amount": 100.0},
    ],
}


def test_a_cii_xml_input_is_extracted_exactly(api: httpx.Client):
    event = _extract(api, cii_xml(), "xml")
    assert event["transformedContent"] == CII_CONTENT
    assert event["fieldConfidences"]["/totalAmount"] >= 0.95


def test_a_ubl_xml_input_is_extracted_exactly(api: httpx.Client):
    event = _extract(api, UBL_XML, "xml")
    assert event["transformedContent"] == {
        "invoiceNumber": "UBL-7781",
        "invoiceDate": "2024-06-01",
        "totalAmount": 2500.0,
        "vendorName": "Nordic Trade AB",
        "lineItems": [{"description": "Chair", "quantity": 4.0, "unitPrice": 500.0, "amount": 2000.0}],
    }


def test_a_factur_x_pdf_is_read_from_its_xml_where_its_text_disagrees(api: httpx.Client):
    printed = [
        "Acme Printing Ltd",
        "Invoice No: PRINTED-1",
        "Invoice Date: 01.01.2023",
        "Description      Qty     Price    Amount",
        "Paper            1       5.00     5.00",
        "Total: 9.99 EUR",
    ]
    event = _extract(api, invoice_pdf(printed, cii_xml()), "pdf")
    assert event["transformedContent"] == CII_CONTENT
    assert all(value >= 0.95 for value in event["fieldConfidences"].values())


def test_a_pdf_with_a_malformed_embedded_xml_is_read_from_its_text(api: httpx.Client):
    event = _extract(api, invoice_pdf(PRINTED, b"<rsm:CrossIndustryInvoice><ram:ID>FX-"), "pdf")
    content = event["transformedContent"]
    assert content["invoiceNumber"] == "FX-2024-0042"
    assert content["totalAmount"] == 1190.0
    assert event["fieldConfidences"]["/totalAmount"] < 0.99
