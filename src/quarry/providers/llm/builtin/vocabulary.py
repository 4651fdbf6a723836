"""What documents call things: the labels under which a schema property's value is printed.

A property is matched to a *concept* by the words of its name and title (``invoiceNumber``,
``invoice_no``, "Invoice #"); the concept brings the labels real documents use, in several
languages, most specific first. Properties no concept knows are looked for under their own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from quarry.providers.llm.builtin.values import fold


@dataclass(frozen=True)
class Concept:
    name: str
    keys: tuple[frozenset[str], ...]  # a property is this concept when its words include one of these sets
    labels: tuple[str, ...]  # most specific first
    kind: str = "text"  # text | identifier | party | amount | date | currency | quantity
    shape: str | None = None  # regex an identifier must match (container numbers…)
    negative: tuple[str, ...] = field(default=())  # labels that look alike but mean something else


def _keys(*groups: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(group.split()) for group in groups)


def _labels(text: str) -> tuple[str, ...]:
    return tuple(label.strip() for label in text.split("|") if label.strip())


CONCEPTS: tuple[Concept, ...] = (
    Concept("invoice_number", _keys("invoice number", "invoice no", "invoice id", "invoice num", "bill number",
            "bill no", "invoice"), _labels(
        "invoice number|invoice no|invoice #|invoice nr|invoice num|inv no|inv #|invoice id|bill number|bill no|"
        "tax invoice no|rechnungsnummer|rechnungsnr|rechnung nr|rechnungs nr|facture n°|facture no|facture numero|"
        "numero de facture|n° de facture|factura n°|factura no|numero de factura|fattura n|exchanged document|invoice"),
        "identifier", negative=("invoice date", "invoice total", "invoice amount")),
    Concept("order_number", _keys("order number", "order no", "order id", "purchase order", "po number", "order"),
            _labels("order number|order no|order #|order id|order nr|purchase order|po number|po #|p.o. number|"
                    "order reference|order ref|bestellnummer|bestell nr|commande n°|numero de commande|pedido"),
            "identifier",
            negative=("order date",)),
    Concept("bill_of_lading_number", _keys("bill of lading", "bol", "b l", "bl number"),
            _labels("bill of lading number|bill of lading no|b/l number|b/l no|bl number|bl no|bol number|bol no|"
                    "bol #|b/l #"), "identifier"),
    Concept("booking_number", _keys("booking", "reservation"), _labels(
        "booking id|booking number|booking no|booking reference|reservation number|confirmation number"), "identifier"),
    Concept("customer_number", _keys("customer number", "customer id", "client id", "account number"), _labels(
        "customer number|customer no|customer id|client id|id client|id.client|account number|account no|"
        "kundennummer|kundennr|numero client"), "identifier"),
    Concept("due_date", _keys("due date", "due", "payment date"), _labels(
        "due date|payment due|date due|due by|due|pay by|faellig|fallig|zahlungsziel|date limite de paiement|"
        "date d'echeance|echeance|fecha de vencimiento|scadenza"), "date"),
    Concept("ship_date", _keys("ship date", "shipping date", "shipped", "departure date", "shipment date"), _labels(
        "ship date|shipping date|date of shipment|shipment date|shipped on|date shipped|departure date|"
        "on board date|laden on board"), "date"),
    Concept("order_date", _keys("order date", "ordered"), _labels(
        "order date|date ordered|ordered on|order placed|bestelldatum|date de commande"), "date"),
    Concept("invoice_date", _keys("invoice date", "issue date", "date", "issued", "dated"), _labels(
        "invoice date|date of invoice|issue date|date of issue|issued on|issued|invoice dated|dated|billing date|"
        "bill date|rechnungsdatum|datum|date de facture|date d'emission|fecha de factura|fecha|data|date"), "date",
        negative=("due date", "order date", "delivery date", "ship date")),
    Concept("subtotal", _keys("subtotal", "sub total", "net amount", "net total", "untaxed", "amount untaxed",
            "total net", "net"), _labels(
        "subtotal|sub total|sub-total|net amount|net total|total net|total excl|total before tax|amount before tax|"
        "total ht|montant ht|total hors taxes|zwischensumme|nettobetrag|netto|gesamt netto|summe netto|base imponible|"
        "tax exclusive amount|tax basis total|line extension amount|net"),
        "amount"),
    Concept("tax", _keys("tax", "vat", "gst", "tax amount", "vat amount", "sales tax"), _labels(
        "total tax|tax amount|vat amount|sales tax|tax total|total vat|vat|gst|hst|tax|mwst|ust|umsatzsteuer|"
        "mehrwertsteuer|steuer|tva|montant tva|iva|cst|igst|cgst|sgst"), "amount",
        negative=("tax id", "vat id", "vat no", "tax number")),
    Concept("total", _keys("total", "total amount", "amount due", "grand total", "balance due", "amount",
            "total due", "invoice total", "amount total"), _labels(
        "grand total|total amount due|amount due|balance due|total due|total to pay|amount payable|total payable|"
        "invoice total|total amount|total incl|total inc|total (incl|total eur|total usd|total ttc|montant ttc|"
        "net a payer|somme a payer|montant total|total facture|gesamtbetrag|rechnungsbetrag|endbetrag|"
        "zu zahlen|gesamtsumme|gesamt|summe|importe total|total a pagar|totale|payable amount|tax inclusive amount|"
        "due payable|zahlbetrag|bruttosumme|rechnungssumme|a payer|total sales incl|"
        "total inclusive|rounded total|total rounded|nett total|net total payable|total|gross|brutto|amount"),
        "amount",
        negative=("subtotal", "sub total", "total tax", "total vat", "total gst", "total net", "total ht", "total excl",
                  "total before", "total weight", "total quantity", "total qty", "total items", "total item",
                  "total pieces", "total packages", "total discount", "total savings", "total sales excl",
                  "total sales (excl", "rechnungssumme ohne", "gesamtbetrag der", "amount tendered", "amount paid",
                  "amount rm", "amount(rm", "tax amount", "gst amount", "vat amount", "net amount")),
    Concept("currency", _keys("currency", "currency code"), _labels("currency|wahrung|devise|moneda"), "currency"),
    Concept("issuer", _keys("issuer", "vendor", "seller", "supplier", "merchant", "company", "from", "sender",
            "biller", "store", "shop", "provider", "issuer name", "vendor name", "seller name", "supplier name",
            "merchant name", "company name"), _labels(
        "sold by|seller|vendor|supplier|issued by|service provider|merchant|from|billed by|remit to|payable to|"
        "company|lieferant|verkaufer|fournisseur|vendeur|proveedor|account name"), "party"),
    Concept("customer", _keys("customer", "client", "buyer", "bill to", "billed to", "recipient", "customer name",
            "client name", "buyer name", "sold to", "purchaser"), _labels(
        "bill to|billed to|invoice to|sold to|customer name|customer|client|buyer|purchaser|recipient|"
        "rechnungsempfanger|kunde|facture a|cliente|guest name"), "party",
        negative=("customer number", "customer no", "customer id", "customer care", "customer service")),
    Concept("shipper", _keys("shipper", "consignor", "exporter"), _labels("shipper|consignor|exporter|versender"),
            "party"),
    Concept("consignee", _keys("consignee", "receiver", "importer"), _labels("consignee|receiver|importer|empfanger"),
            "party"),
    Concept("carrier", _keys("carrier", "shipping line", "transporter", "vessel operator"), _labels(
        "carrier|shipping line|ocean carrier|transporter|frachtfuhrer|transporteur"), "text"),
    Concept("port_of_loading", _keys("port loading", "loading port", "origin port", "pol"), _labels(
        "port of loading|loading port|port of lading|pol|place of receipt|origin"), "text"),
    Concept("port_of_discharge", _keys("port discharge", "discharge port", "destination port", "pod"), _labels(
        "port of discharge|discharge port|pod|port of destination|place of delivery|destination"), "text"),
    Concept("containers", _keys("container", "containers", "container number", "container numbers"), _labels(
        "container number|container no|container nos|containers|container"), "identifier",
        shape=r"[A-Z]{3}[UJZ]\s?\d{6}-?\d"),
    Concept("weight", _keys("weight", "gross weight", "total weight", "weight kg"), _labels(
        "total gross weight|gross weight|gross wt|total weight|weight|gewicht|bruttogewicht|poids"), "quantity"),
    Concept("packages", _keys("packages", "package count", "pieces", "number packages", "cartons"), _labels(
        "number of packages|no of packages|total packages|packages|pieces|cartons|colli"), "quantity"),
    Concept("payment_method", _keys("payment method", "payment", "paid by", "payment mode", "payment type"), _labels(
        "payment method|payment mode|payment type|paid by|paid with|payment|tender|zahlungsart|zahlungsform|"
        "mode de paiement|forma de pago"), "text"),
    Concept("shipping_method", _keys("shipping method", "shipping", "delivery method", "shipment method"), _labels(
        "shipping method|delivery method|shipping|ship via|shipped via|delivery|versandart|mode de livraison"), "text",
        negative=("shipping address", "delivery address", "delivery date")),
    Concept("address", _keys("address", "delivery address", "shipping address", "billing address"), _labels(
        "delivery address|shipping address|ship to|deliver to|delivering to|billing address|address|lieferadresse|"
        "lieferanschrift|adresse de livraison|adresse"),
        "address"),
    Concept("email", _keys("email", "e mail", "mail"), _labels("email|e-mail|mail"), "text",
            shape=r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    Concept("phone", _keys("phone", "telephone", "tel", "mobile"), _labels("phone|telephone|tel|mobile|telefon"),
            "text"),
    Concept("vat_id", _keys("vat id", "vat number", "tax id", "tax number", "vat no", "gstin", "ustid"), _labels(
        "vat id|vat number|vat no|vat reg no|tax id|tax number|ustid|ust-id|ust-idnr|steuer-nr|gstin|tva intracom|"
        "siret"), "identifier"),
    Concept("iban", _keys("iban",), _labels("iban"), "identifier", shape=r"[A-Z]{2}\d{2}[A-Z0-9 ]{10,30}"),
    # Line items: their columns.
    Concept("description", _keys("description", "item", "product", "service", "article", "name", "item name",
            "product name", "title"), _labels(
        "description|item description|product title|product|item|article|service|designation|libelle|"
        "beschreibung|bezeichnung|artikel|descripcion|details|particulars|name|text"), "text"),
    Concept("sku", _keys("sku", "item code", "product code", "article number", "part number", "code"), _labels(
        "sku|item code|item no|product code|article no|art.-nr|art nr|artikelnummer|part number|part no|ref|code"),
        "identifier"),
    Concept("quantity", _keys("quantity", "qty", "count", "units", "pieces"), _labels(
        "quantity|qty|qte|quantite|menge|anzahl|units|cantidad|pcs|nb"), "quantity"),
    Concept("unit_price", _keys("unit price", "price", "rate", "unit cost", "price unit", "unitprice"), _labels(
        "unit price|price per unit|unit cost|price|rate|einzelpreis|e-preis|vk-preis|preis|prix unitaire|"
        "prix unit|pu|precio unitario|price amount|charge amount|unit amount|unit"), "amount"),
    Concept("line_amount", _keys("amount", "line total", "total", "line amount", "net", "price total", "sum"),
            _labels("amount|line total|total|zeilenbetrag|betrag|gesamtpreis|gesamt|montant|total ht|importe|sum"),
            "amount"),
)  # fmt: skip

_LINE_ITEM_CONCEPTS = {"description", "sku", "quantity", "unit_price", "line_amount"}


def words(name: str) -> list[str]:
    """``invoiceNumber`` / ``invoice_number`` / ``Invoice No.`` -> ``["invoice", "number"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^\w]+|_", fold(spaced)) if w]


def concept_for(name: str, title: str | None, *, in_table: bool) -> Concept | None:
    """The concept whose keys the property's words cover best (line-item columns only inside arrays)."""
    candidates = {frozenset(words(name)), frozenset(words(title or ""))} - {frozenset()}
    best: tuple[int, Concept] | None = None
    for concept in CONCEPTS:
        if (concept.name in _LINE_ITEM_CONCEPTS) != in_table and concept.name not in ("sku", "description"):
            continue
        for key in concept.keys:
            for have in candidates:
                if key <= have:
                    score = len(key) * 10 - len(have - key)
                    if best is None or score > best[0]:
                        best = (score, concept)
    return best[1] if best else None
