"""Generate Quarry's sample corpus: documents in every input format, each with its known answer.

Run from the repository root::

    .venv/bin/python examples/generate.py

It rewrites ``examples/corpus/`` and ``examples/manifest.json``. The content of each document comes
from ``random.Random`` seeded with its file name and from fixed dates, so every run writes the same
bytes, and changing one document does not shift the content of the others.

The documents are made to differ the way real vendors differ (labels, layouts, languages, number and
date formats), because an extractor is measured on exactly that variety.
"""

from __future__ import annotations

import csv
import email.policy
import email.utils
import html
import io
import json
import random
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

import docx
import openpyxl
import pillow_heif
import xlwt
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docx.table import _Cell
from fpdf import FPDF
from openpyxl.styles import Font
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
MANIFEST = HERE / "manifest.json"
FIXED_TIME = datetime(2024, 1, 1, tzinfo=UTC)  # creation date written into PDFs and Office files
CENT = Decimal("0.01")

pillow_heif.register_heif_opener()


# --- Numbers, money and dates, the way vendors print them -------------------------------------------------------

SEPARATORS = {
    "en": (",", "."),
    "de": (".", ","),
    "fr": (" ", ","),
    "ch": ("'", "."),
    "in": (",", "."),
    "plain": ("", "."),
}
MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
}


def fmt_number(value: Decimal, style: str, places: int | None = 2) -> str:
    """``value`` in a number style: en 1,234.56 · de 1.234,56 · fr 1 234,56 · ch 1'234.56 · in 1,23,456.00 ·
    plain 1234.5. ``places=None`` (and the plain style) print as few decimals as needed: 3, 2.5."""
    if places is None or style == "plain":
        text = f"{value:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        text = f"{value:.{places}f}"
    whole, _, fraction = text.partition(".")
    group, point = SEPARATORS[style]
    if style == "in" and len(whole) > 3:  # Indian grouping: last three digits, then pairs
        head = whole[:-3]
        groups = [head[max(0, end - 2) : end] for end in range(len(head), 0, -2)][::-1] + [whole[-3:]]
    else:
        groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)][::-1]
    return group.join(groups) + (point + fraction if fraction else "")


def fmt_date(day: date, style: str) -> str:
    """``day`` in a date style, spelling month names itself so the system locale cannot change the output."""
    month = MONTHS["en"][day.month - 1]
    return {
        "iso": day.isoformat(),
        "us": f"{day:%m/%d/%Y}",
        "dmy": f"{day:%d/%m/%Y}",
        "dot": f"{day:%d.%m.%Y}",
        "long": f"{day.day} {month} {day.year}",
        "us_long": f"{month} {day.day}, {day.year}",
        "de_long": f"{day.day}. {MONTHS['de'][day.month - 1]} {day.year}",
        "fr_long": f"{day:%d} {MONTHS['fr'][day.month - 1]} {day.year}",
        "abbr": f"{day:%d}-{month[:3]}-{day.year}",
    }[style]


@dataclass(frozen=True)
class Locale:
    """How one document writes numbers, money and dates; ``currency`` is the ISO code of the money it shows."""

    lang: str  # language of the labels: en, de or fr
    currency: str
    number: str  # a fmt_number style
    date: str  # a fmt_date style
    money: str  # pattern around the formatted number: "${n}", "{n} €", "CHF {n}"

    def amount(self, value: Decimal) -> str:
        return fmt_number(value, self.number)

    def cash(self, value: Decimal) -> str:
        return self.money.format(n=self.amount(value))

    def qty(self, value: Decimal) -> str:
        return fmt_number(value, self.number, None)

    def day(self, value: date) -> str:
        return fmt_date(value, self.date)

    def rate(self, percent: Decimal) -> str:
        return fmt_number(percent, self.number, None) + ("%" if self.lang == "en" else " %")


US = Locale("en", "USD", "en", "us", "${n}")
UK = Locale("en", "GBP", "en", "long", "£{n}")
DE = Locale("de", "EUR", "de", "dot", "{n} €")
FR = Locale("fr", "EUR", "fr", "fr_long", "{n} €")
CH = Locale("en", "CHF", "ch", "iso", "CHF {n}")
IN = Locale("en", "INR", "in", "abbr", "INR {n}")
NL = Locale("en", "EUR", "en", "iso", "€{n}")


def num(value: Decimal) -> int | float:
    """A Decimal as the JSON number the manifest expects: 3, 2.5, 1234.56."""
    return int(value) if value == value.to_integral_value() else float(value)


def pick_date(rng: random.Random, *, unambiguous: bool = False) -> date:
    """A 2024 working day; ``unambiguous`` keeps the day above 12 so dd/mm/yyyy cannot be misread as mm/dd."""
    while True:
        day = date(2024, 1, 8) + timedelta(days=rng.randrange(320))
        if day.weekday() < 5 and (day.day > 12 or not unambiguous):
            return day


# --- Content: parties, line items, documents --------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    address: tuple[str, ...]
    extra: tuple[str, ...] = ()  # tax ID, phone: printed under a seller's address


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT, ROUND_HALF_UP)


# description, lowest price, highest price, kind of quantity (unit by default)
CATALOGUES: dict[str, list[tuple]] = {
    "office": [
        ("A4 copy paper, 80 g/m², box of 5 reams", 24, 42),
        ("Ballpoint pens, blue (pack of 50)", 9, 16),
        ("Heavy-duty stapler", 18, 35),
        ("Toner cartridge TN-2420, black", 48, 79),
        ("Whiteboard markers, set of 12", 8, 15),
        ("Archive boxes, pack of 10", 14, 26),
        ("Ergonomic office chair", 189, 349),
        ("Desk lamp, LED", 29, 59),
    ],
    "consulting": [
        ("Data pipeline development (hours)", 120, 175, "hours"),
        ("Dashboard design (hours)", 90, 140, "hours"),
        ("Project management (hours)", 80, 120, "hours"),
        ("Cloud hosting, monthly fee", 250, 600, "service"),
        ("Onboarding workshop", 900, 1500, "service"),
        ("Code review (hours)", 100, 150, "hours"),
    ],
    "fasteners": [
        ("Hex bolt M10 x 50, zinc (box of 100)", 18, 32),
        ("Flange nut M8 (box of 200)", 12, 22),
        ("Stainless washer 10 mm (box of 500)", 9, 17),
        ("Threaded rod M12 x 1 m", 4, 9),
        ("Anchor bolt 3/8 in (box of 50)", 24, 41),
        ("Self-tapping screw #10 (box of 1,000)", 21, 36),
        ("Lock washer M10 (box of 250)", 7, 13),
        ("Eye bolt M12, forged", 3, 7, "wholesale"),
        ("Carriage bolt 1/2 x 4 in (box of 50)", 27, 44),
    ],
    "printing": [
        ("Business cards, 500 pcs", 39, 69),
        ("Flyers A5, double-sided, 2,500 pcs", 140, 220),
        ("Roll-up banner 85 x 200 cm", 89, 149),
        ("Letterheads, 1,000 sheets", 95, 160),
        ("Vinyl window lettering", 120, 260, "service"),
        ("Design proof revision (hours)", 45, 65, "hours"),
    ],
    "landscaping": [
        ("Lawn mowing, weekly visit", 45, 65),
        ("Hedge trimming (hours)", 40, 55, "hours"),
        ("Hardwood mulch (cubic yard)", 38, 52),
        ("Spring clean-up", 250, 420, "service"),
        ("Irrigation repair (hours)", 70, 95, "hours"),
    ],
    "maschinen": [
        ("Kugellager 6204-2RS", 6, 14, "wholesale"),
        ("Hydraulikschlauch DN12, 2 m", 38, 64),
        ("Dichtungssatz Typ B", 22, 41),
        ("Zahnriemen HTD 8M-1200", 45, 88),
        ("Wartungspauschale", 380, 650, "service"),
        ("Montage vor Ort (Std.)", 68, 95, "hours"),
        ("Anfahrtspauschale", 45, 90, "service"),
    ],
    "buero": [
        ("Kopierpapier A4, 80 g, 5 x 500 Blatt", 21, 34),
        ("Ordner breit, blau (10 Stk.)", 18, 29),
        ("Bürostuhl Ergo Plus", 229, 389),
        ("Toner schwarz, 3.000 Seiten", 59, 95),
        ("Schreibtischlampe LED", 35, 69),
        ("Haftnotizen 76 x 76 mm (12 Blöcke)", 7, 13),
    ],
    "elektro": [
        ("Installationskabel NYM-J 3x1,5 mm², 50 m", 39, 62),
        ("Steckdose 2-fach, reinweiß", 9, 16),
        ("FI-Schutzschalter 40 A", 38, 59),
        ("LED-Panel 60 x 60 cm", 49, 89),
        ("Elektroinstallation (Std.)", 62, 78, "hours"),
        ("Anfahrt", 35, 55, "service"),
    ],
    "holz": [
        ("Einbauschrank Eiche, nach Maß", 1800, 3200, "service"),
        ("Arbeitsplatte Buche massiv, 3 m", 290, 420),
        ("Montage (Std.)", 55, 68, "hours"),
        ("Beschläge und Kleinmaterial", 40, 90, "service"),
        ("Entsorgung Altmöbel", 80, 150, "service"),
    ],
    "eclairage": [
        ("Lampe de bureau en laiton", 89, 159),
        ("Abat-jour en lin Ø 40 cm", 45, 79),
        ("Suspension en rotin", 120, 210),
        ("Ampoule LED E27 4 W (lot de 10)", 19, 35),
        ("Pose et raccordement (heure)", 48, 65, "hours"),
        ("Frais de livraison", 15, 35, "service"),
    ],
    "emballage": [
        ("Carton double cannelure 60x40x40", 1.1, 2.4, "bulk"),
        ("Film étirable 500 mm x 300 m", 9, 16),
        ("Ruban adhésif imprimé (36 rouleaux)", 38, 60),
        ("Calage papier kraft, rouleau 750 m", 42, 70),
        ("Palette Europe 1200 x 800", 9, 15, "wholesale"),
    ],
    "textiles": [
        ("Cotton bedsheet, double, pack of 2", 850, 1400, "wholesale"),
        ("Handloom silk saree", 4200, 9800, "wholesale"),
        ("Bath towel set, 6 pcs", 1150, 1900, "wholesale"),
        ("Cushion cover 16 x 16 in, set of 5", 640, 990, "wholesale"),
        ("Table runner, block print", 450, 780, "wholesale"),
    ],
    "horeca": [
        ("Espresso beans, 1 kg", 18, 29),
        ("Oat milk barista, 1 L (case of 12)", 24, 33),
        ("Paper cups 8 oz (1,000 pcs)", 39, 58),
        ("Wooden stirrers (5,000 pcs)", 11, 19),
        ("Espresso machine cleaning tablets", 14, 22),
        ("Cane sugar sticks (1,000 pcs)", 16, 24),
    ],
    "software": [
        ("Annual licence, Alpenblick Planner", 2400, 4800, "service"),
        ("Additional user seats", 120, 180),
        ("Premium support, 12 months", 900, 1500, "service"),
        ("Data migration (hours)", 150, 190, "hours"),
        ("Training session, half day", 850, 1200, "service"),
    ],
    "interiors": [
        ("Oak meeting table, 8-seat", 1400, 2200, "service"),
        ("Acoustic wall panels (set of 6)", 320, 480),
        ("Task chair, charcoal", 189, 289),
        ("Installation (hours)", 45, 60, "hours"),
        ("Delivery and disposal", 95, 150, "service"),
    ],
    "cleaning": [
        ("Office cleaning, weekly visit", 140, 220),
        ("Carpet deep clean (sq ft)", 0.35, 0.6, "area"),
        ("Interior window cleaning", 180, 260, "service"),
        ("Restroom supplies restock", 60, 110, "service"),
        ("Floor stripping and waxing (hours)", 45, 60, "hours"),
    ],
}
QUANTITIES = {
    "unit": (1, 1, 2, 2, 3, 4, 5, 6, 10, 12),
    "wholesale": (10, 12, 20, 24, 30, 40, 50),
    "bulk": (100, 200, 250, 500),
    "area": (650, 800, 1200, 1850, 2400),
    "service": (1,),
}


def make_lines(rng: random.Random, catalogue: str, count: int) -> list[Line]:
    """``count`` different items of a catalogue with plausible quantities and prices."""
    lines = []
    for description, low, high, *kind in rng.sample(CATALOGUES[catalogue], count):
        kind = kind[0] if kind else "unit"
        quantity = Decimal(rng.randrange(2, 49)) / 2 if kind == "hours" else Decimal(rng.choice(QUANTITIES[kind]))
        price = Decimal(f"{rng.uniform(low, high):.2f}")
        if price >= 20 and rng.random() < 0.4:  # round prices are common
            price = price.quantize(Decimal(1))
        lines.append(Line(description, quantity, price))
    return lines


@dataclass
class Invoice:
    number: str
    issued: date
    due: date | None
    seller: Party
    buyer: Party
    lines: list[Line]
    tax_rate: Decimal  # percent
    loc: Locale
    po: str = ""  # the buyer's purchase order: a reference that is not the invoice number
    customer_no: str = ""

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return (self.subtotal * self.tax_rate / 100).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    def expected(self, fields: tuple[str, ...] | None = None) -> dict:
        """The answer for invoice.json; ``fields`` limits it to what a document shows."""
        answer = {
            "invoiceNumber": self.number,
            "invoiceDate": self.issued.isoformat(),
            "dueDate": self.due.isoformat() if self.due else None,
            "issuer": self.seller.name,
            "customerName": self.buyer.name,
            "currency": self.loc.currency,
            "subtotal": num(self.subtotal),
            "taxAmount": num(self.tax),
            "totalAmount": num(self.total),
            "lineItems": [
                {
                    "description": line.description,
                    "quantity": num(line.quantity),
                    "unitPrice": num(line.unit_price),
                    "amount": num(line.amount),
                }
                for line in self.lines
            ],
        }
        return {key: value for key, value in answer.items() if value is not None and (not fields or key in fields)}


@dataclass(frozen=True)
class Labels:
    """The wording of one vendor's invoices. A label of None leaves that field off the document."""

    title: str = "INVOICE"
    number: str = "Invoice Number:"
    date: str = "Invoice Date:"
    due: str | None = "Due Date:"
    customer: str = "Bill to:"
    issuer: str | None = None  # "From:", "Supplier:"…; None: the seller only appears as letterhead
    headers: tuple[str, str, str, str] = ("Description", "Qty", "Unit Price", "Amount")
    subtotal: str = "Subtotal"
    tax: str = "Tax ({rate})"
    total: str = "Total"
    po: str | None = None
    customer_no: str | None = None
    notes: tuple[str, ...] = ()


DE_LABELS = Labels(
    title="Rechnung",
    number="Rechnungsnummer",
    date="Rechnungsdatum",
    due="Zahlbar bis",
    customer="Kunde:",
    headers=("Beschreibung", "Menge", "Einzelpreis", "Betrag"),
    subtotal="Zwischensumme",
    tax="MwSt. {rate}",
    total="Gesamtbetrag",
)


def make_invoice(spec: InvoiceSpec) -> Invoice:
    """The invoice of a spec; its random parts (number, dates, items) are seeded by the document's file name."""
    rng = random.Random(spec.name)
    issued = pick_date(rng, unambiguous=spec.loc.date == "dmy")
    return Invoice(
        number=spec.number.format(n=rng.randrange(1, 10000)),
        issued=issued,
        due=issued + timedelta(days=spec.due_days) if spec.labels.due else None,
        seller=spec.seller,
        buyer=spec.buyer,
        lines=make_lines(rng, spec.catalogue, spec.lines),
        tax_rate=Decimal(spec.tax),
        loc=spec.loc,
        po=f"PO-{rng.randrange(10000, 99999)}" if spec.labels.po else "",
        customer_no=str(rng.randrange(10000, 99999)) if spec.labels.customer_no else "",
    )


def detail_fields(inv: Invoice, labels: Labels) -> list[tuple[str, str | date]]:
    """The invoice's reference block as (label, value), dates still as dates."""
    rows: list[tuple[str | None, str | date | None]] = [
        (labels.number, inv.number),
        (labels.date, inv.issued),
        (labels.due, inv.due),
        (labels.customer_no, inv.customer_no),
        (labels.po, inv.po),
    ]
    return [(label, value) for label, value in rows if label and value]


def detail_rows(inv: Invoice, labels: Labels) -> list[tuple[str, str]]:
    return [
        (label, inv.loc.day(value) if isinstance(value, date) else value) for label, value in detail_fields(inv, labels)
    ]


def item_cells(line: Line, loc: Locale) -> tuple[str, str, str, str]:
    return line.description, loc.qty(line.quantity), loc.amount(line.unit_price), loc.amount(line.amount)


def total_rows(inv: Invoice, labels: Labels) -> list[tuple[str, str]]:
    loc = inv.loc
    return [
        (labels.subtotal, loc.cash(inv.subtotal)),
        (labels.tax.format(rate=loc.rate(inv.tax_rate)), loc.cash(inv.tax)),
        (labels.total, loc.cash(inv.total)),
    ]


# --- Pages: positioned text drawn the same way into a PDF or an image ---------------------------------------------


@dataclass
class Text:
    x: float
    y: float  # baseline, in mm from the top
    text: str
    size: float  # points
    bold: bool
    align: str  # L, R or C: which end of the text sits at x
    grey: bool


@dataclass
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    width: float


@dataclass
class Page:
    """One page as text and lines in millimetres; the PDF writer and the rasterizer both draw from it."""

    width: float = 210.0
    height: float = 297.0
    font: str = "helvetica"  # helvetica, times, courier (PDF core fonts) or dejavu (embedded, for €, ₹…)
    items: list[Text | Rule] = field(default_factory=list)

    def text(self, x, y, text, size=10.0, *, bold=False, align="L", grey=False) -> None:
        self.items.append(Text(x, y, text, size, bold, align, grey))

    def lines(self, x, y, lines, size=9.0, *, step=None, bold=False, grey=False) -> float:
        """Draws ``lines`` one under the other from baseline ``y``; returns the baseline after the last."""
        for line in lines:
            self.text(x, y, line, size, bold=bold, grey=grey)
            y += step or size * 0.5
        return y

    def rule(self, x1, y1, x2, y2=None, width=0.3) -> None:
        self.items.append(Rule(x1, y1, x2, y1 if y2 is None else y2, width))

    def box(self, x, y, w, h) -> None:
        for x1, y1, x2, y2 in ((x, y, x + w, y), (x, y + h, x + w, y + h), (x, y, x, y + h), (x + w, y, x + w, y + h)):
            self.rule(x1, y1, x2, y2)


FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"))
FONT_FILES = {  # the DejaVu faces that draw each family in images, regular and bold
    "helvetica": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "dejavu": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "times": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "courier": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
}


@lru_cache
def font_file(family: str, bold: bool) -> Path:
    name = FONT_FILES[family][bold]
    for folder in FONT_DIRS:
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{name} not found in {', '.join(map(str, FONT_DIRS))}: install the DejaVu fonts")


@lru_cache
def pil_font(family: str, bold: bool, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file(family, bold)), pixels)


def pdf_document(pages: list[Page], *, scan: Look | None = None, seed: str = "") -> bytes:
    """The pages as a PDF with a text layer, or with ``scan`` as a scanner makes it: one image per page, no text."""
    pdf = FPDF(unit="mm", format=(pages[0].width, pages[0].height))
    pdf.set_creation_date(FIXED_TIME)
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    if not scan and any(page.font == "dejavu" for page in pages):
        pdf.add_font("dejavu", "", str(font_file("dejavu", False)))
        pdf.add_font("dejavu", "B", str(font_file("dejavu", True)))
    for index, page in enumerate(pages):
        pdf.add_page()
        if scan:
            image = rasterize(page, scan, random.Random(f"{seed}/{index}"))
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=scan.quality, optimize=True)
            pdf.image(buffer, x=0, y=0, w=page.width, h=page.height)
            continue
        for item in page.items:
            if isinstance(item, Rule):
                pdf.set_line_width(item.width)
                pdf.line(item.x1, item.y1, item.x2, item.y2)
            else:
                pdf.set_font(page.font, "B" if item.bold else "", item.size)
                pdf.set_text_color(90 if item.grey else 0)
                shift = {"L": 0, "R": 1, "C": 0.5}[item.align] * pdf.get_string_width(item.text)
                pdf.text(item.x - shift, item.y, item.text)
    return bytes(pdf.output())


@dataclass(frozen=True)
class Look:
    """How a page looks once printed and scanned or photographed."""

    dpi: int = 150
    paper: int = 255  # grey level of the paper
    noise: int = 0  # strength of the grain, 0-255
    blur: float = 0.0
    angle: float = 0.0  # skew, degrees
    surround: int | None = None  # grey of the table the page lies on, for photos
    quality: int = 75  # for lossy formats


LOOKS = {
    "png": Look(),
    "jpeg": Look(paper=232, noise=24, blur=0.6, angle=0.7, quality=60),
    "webp": Look(paper=242, noise=14, blur=0.4, quality=60),
    "heic": Look(paper=238, noise=8, blur=0.5, angle=-0.5, quality=50),
    "pdf-scan": Look(paper=246, noise=18, blur=0.5, angle=0.35, quality=60),
}
ANCHORS = {"L": "ls", "R": "rs", "C": "ms"}


def rasterize(page: Page, look: Look, rng: random.Random) -> Image.Image:
    """The page as a greyscale image at ``look.dpi``, black text on (slightly grey, grainy, skewed) paper."""
    scale = look.dpi / 25.4
    image = Image.new("L", (round(page.width * scale), round(page.height * scale)), 255)
    draw = ImageDraw.Draw(image)
    for item in page.items:
        if isinstance(item, Rule):
            points = [(item.x1 * scale, item.y1 * scale), (item.x2 * scale, item.y2 * scale)]
            draw.line(points, fill=0, width=max(1, round(item.width * scale)))
        else:
            font = pil_font(page.font, item.bold, round(item.size * look.dpi / 72))
            fill = 90 if item.grey else 0
            draw.text((item.x * scale, item.y * scale), item.text, fill=fill, font=font, anchor=ANCHORS[item.align])
    if look.paper < 255:
        image = image.point(lambda value: value * look.paper // 255)
    if look.noise:
        grain = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
        image = ImageChops.subtract(image, grain.point(lambda value: value * look.noise // 255))
    if look.blur:
        image = image.filter(ImageFilter.GaussianBlur(look.blur))
    background = look.paper
    if look.surround is not None:
        image = ImageOps.expand(image, border=round(12 * scale), fill=look.surround)
        background = look.surround
    if look.angle:
        image = image.rotate(look.angle, resample=Image.Resampling.BICUBIC, fillcolor=background)
    return image


def encode_image(image: Image.Image, kind: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, "PNG", optimize=True)
    elif kind == "jpeg":
        image.save(buffer, "JPEG", quality=quality, optimize=True)
    elif kind == "webp":
        image.save(buffer, "WEBP", quality=quality, method=6)
    else:
        image.convert("RGB").save(buffer, "HEIF", quality=quality)
    return buffer.getvalue()


def page_document(pages: list[Page], output: str, seed: str, look: Look | None = None) -> tuple[bytes, str, list[str]]:
    """Bytes, inputType and extra tags of pages written as ``output``: pdf, pdf-scan, png, jpeg, webp or heic."""
    if output == "pdf":
        return pdf_document(pages), "pdf", []
    look = look or LOOKS[output]
    if output == "pdf-scan":
        return pdf_document(pages, scan=look, seed=seed), "pdf", ["ocr", "scan"]
    return encode_image(rasterize(pages[0], look, random.Random(seed)), output, look.quality), output, ["ocr"]


def text_page(lines: list[str], *, size: float = 8.5, margin: float = 6.0) -> Page:
    """Monospaced lines on a narrow page, the way a till prints them."""
    char = size * 0.602 * 25.4 / 72  # advance of DejaVu Sans Mono and Courier, in mm
    step = size * 0.5
    width = round(max(map(len, lines)) * char + 2 * margin, 1)
    page = Page(width=width, height=round(len(lines) * step + 2 * margin + 3, 1), font="courier")
    page.lines(margin, margin + 3, lines, size, step=step)
    return page


# --- Invoices on pages ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    header: str = "letterhead"  # letterhead | two_column | parties | centered
    details: str = "inline"  # inline ("Label: value") | columns (label, value far right) | stacked (value below)
    font: str = "helvetica"
    rows_per_page: int = 8
    page_numbers: bool = False


TABLE_COLUMNS = ((20, "L"), (122, "R"), (155, "R"), (190, "R"))


def draw_party(page: Page, label: str | None, party: Party, x: float, y: float, *, seller: bool = False) -> float:
    if label:
        page.text(x, y, label, 9, bold=True)
        y += 5
    page.text(x, y, party.name, 12 if seller else 10, bold=True)
    return page.lines(x, y + 5, party.address + (party.extra if seller else ()), 9)


def draw_details(page: Page, rows: list[tuple[str, str]], x: float, y: float, mode: str) -> float:
    for label, value in rows:
        if mode == "stacked":
            page.text(x, y, label, 7.5, bold=True, grey=True)
            page.text(x, y + 4.6, value, 10.5)
            y += 10.5
        elif mode == "columns":
            page.text(x, y, label, 10, bold=True)
            page.text(x + 70, y, value, 10, align="R")
            y += 5.5
        else:
            page.text(x, y, f"{label} {value}", 10)
            y += 5.5
    return y


def draw_invoice_header(page: Page, inv: Invoice, labels: Labels, layout: Layout) -> float:
    """Seller, title, reference block and customer as ``layout.header`` arranges them; returns where items start."""
    seller, details = inv.seller, detail_rows(inv, labels)
    if layout.header == "letterhead":
        page.text(20, 25, seller.name, 16 if len(seller.name) < 30 else 13, bold=True)  # leave room for the title
        left = page.lines(20, 31, seller.address + seller.extra, 9)
        page.text(190, 25, labels.title, 20, bold=True, align="R")
        right = draw_details(page, details, 120, 40, layout.details)
        left = draw_party(page, labels.customer, inv.buyer, 20, max(left, 52) + 6)
    elif layout.header == "two_column":
        page.text(105, 20, labels.title, 18, bold=True, align="C")
        left = draw_party(page, labels.issuer, seller, 20, 34, seller=True)
        right = draw_details(page, details, 120, 34, layout.details)
        left = draw_party(page, labels.customer, inv.buyer, 20, max(left, right) + 6)
    elif layout.header == "parties":
        page.text(20, 25, labels.title, 22, bold=True)
        top = max(40, draw_details(page, details, 120, 20, layout.details) + 4)
        left = draw_party(page, labels.issuer, seller, 20, top, seller=True)
        right = draw_party(page, labels.customer, inv.buyer, 120, top)
    else:  # centered letterhead, reference block under the title on the left, customer on the right
        page.text(105, 22, seller.name, 15, bold=True, align="C")
        page.text(105, 28, " · ".join(seller.address + seller.extra[:1]), 8.5, align="C")
        page.rule(20, 32, 190)
        page.text(20, 44, labels.title, 16, bold=True)
        left = draw_details(page, details, 20, 52, layout.details)
        right = draw_party(page, labels.customer, inv.buyer, 120, 44)
    return max(left, right) + 10


def draw_item_table(page: Page, loc: Locale, labels: Labels, lines: list[Line], y: float) -> float:
    for (x, align), header in zip(TABLE_COLUMNS, labels.headers):
        page.text(x, y, header, 9.5, bold=True, align=align)
    page.rule(20, y + 2.2, 190, width=0.4)
    y += 8
    for line in lines:
        for (x, align), cell in zip(TABLE_COLUMNS, item_cells(line, loc)):
            page.text(x, y, cell, 9.5, align=align)
        y += 6.5
    page.rule(20, y - 3.8, 190)
    return y + 4


def draw_totals(page: Page, rows: list[tuple[str, str]], y: float) -> None:
    for index, (label, value) in enumerate(rows):
        final = index == len(rows) - 1
        if final:
            page.rule(118, y - 4.3, 190)
        page.text(155, y, label, 10, bold=final, align="R")
        page.text(190, y, value, 10, bold=final, align="R")
        y += 6


def invoice_pages(inv: Invoice, labels: Labels, layout: Layout) -> list[Page]:
    """The invoice on A4 pages; items beyond ``layout.rows_per_page`` continue on the next page."""
    size = layout.rows_per_page
    chunks = [inv.lines[start : start + size] for start in range(0, len(inv.lines), size)]
    pages = []
    for index, chunk in enumerate(chunks):
        page = Page(font=layout.font)
        if index == 0:
            y = draw_invoice_header(page, inv, labels, layout)
        else:
            page.text(20, 22, f"{labels.number} {inv.number} (continued)", 10, bold=True)
            y = 34
        y = draw_item_table(page, inv.loc, labels, chunk, y)
        if index == len(chunks) - 1:
            draw_totals(page, total_rows(inv, labels), y + 2)
        page.lines(20, 258, labels.notes, 8.5, grey=True)
        if layout.page_numbers:
            page.text(105, 287, f"Page {index + 1} of {len(chunks)}", 8, align="C")
        pages.append(page)
    return pages


# --- The corpus: files and their manifest entries ----------------------------------------------------------------


class Corpus:
    """Writes documents under corpus/ and collects each one's manifest entry."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[dict] = []

    def add(self, name: str, input_type: str, schema: str, expected: dict, tags: list[str], data: bytes) -> None:
        (self.root / name).write_bytes(data)
        entry = {"file": f"corpus/{name}", "inputType": input_type, "schema": f"schemas/{schema}.json"}
        self.entries.append(entry | {"tags": sorted(set(tags)), "expected": expected})


# --- Invoices in office formats: docx, xlsx, xls ------------------------------------------------------------------

ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def normalized_zip(data: bytes) -> bytes:
    """The zip rewritten with fixed entry dates and fixed dates in docProps/core.xml, so Office files are
    byte-identical from run to run (python-docx and openpyxl stamp the current time into both)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", content)
            entry = zipfile.ZipInfo(info.filename, ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, content)
    return out.getvalue()


def docx_bytes(doc: DocxDocument) -> bytes:
    props = doc.core_properties
    props.author = props.last_modified_by = "Quarry examples"
    props.created = props.modified = FIXED_TIME.replace(tzinfo=None)
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    return normalized_zip(buffer.getvalue())


def docx_lines(container: DocxDocument | _Cell, lines: list[str], *, bold_first: bool = False, size: int = 0) -> None:
    """One paragraph per line in a document or table cell; the first line bold (a name or title) if asked."""
    for index, line in enumerate(lines):
        reuse = index == 0 and isinstance(container, _Cell) and not container.text  # a new cell's empty paragraph
        paragraph = container.paragraphs[0] if reuse else container.add_paragraph()
        run = paragraph.add_run(line)
        if index == 0 and bold_first:
            run.bold = True
            if size:
                run.font.size = Pt(size)


def docx_table(doc: DocxDocument, rows: list[tuple[str, ...]], *, numbers: bool = True) -> None:
    """A gridded table, header row bold; with ``numbers`` every column but the first is right-aligned."""
    table = doc.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Table Grid"
    for row_index, row in enumerate(rows):
        for col_index, text in enumerate(row):
            paragraph = table.cell(row_index, col_index).paragraphs[0]
            paragraph.add_run(text).bold = row_index == 0
            if col_index and numbers:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def invoice_docx(inv: Invoice, labels: Labels, *, two_column: bool) -> bytes:
    """A Word invoice: letterhead paragraphs (or a borderless two-column header table: seller left, invoice
    details right), the customer, a line-item table and the totals."""
    doc = docx.Document()
    doc.styles["Normal"].font.size = Pt(10)
    seller_lines = [inv.seller.name, *inv.seller.address, *inv.seller.extra]
    details = [f"{label} {value}" for label, value in detail_rows(inv, labels)]
    if two_column:
        left, right = doc.add_table(rows=1, cols=2).rows[0].cells
        docx_lines(left, seller_lines, bold_first=True, size=14)
        docx_lines(right, [labels.title, *details], bold_first=True, size=16)
    else:
        docx_lines(doc, seller_lines, bold_first=True, size=16)
        doc.add_heading(labels.title, level=1)
        docx_lines(doc, details)
    doc.add_paragraph()
    docx_lines(doc, [labels.customer, inv.buyer.name, *inv.buyer.address], bold_first=True)
    doc.add_paragraph()
    docx_table(doc, [labels.headers, *(item_cells(line, inv.loc) for line in inv.lines)])
    doc.add_paragraph()
    for label, value in total_rows(inv, labels):
        paragraph = doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        paragraph.add_run(f"{label}\t{value}").bold = label == labels.total
    docx_lines(doc, list(labels.notes))
    return docx_bytes(doc)


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    value: str | Decimal | date
    kind: str = "text"  # text, title, bold, money, qty or date


def invoice_sheets(inv: Invoice, labels: Labels, *, split: bool) -> dict[str, list[Cell]]:
    """Spreadsheet cells of an invoice: header block, customer, item table and totals, with real numbers and
    dates. ``split`` puts the item table on a sheet of its own, as larger workbooks do."""
    seller = [inv.seller.name, *inv.seller.address, *inv.seller.extra]
    main = [Cell(row, 0, text, "title" if row == 0 else "text") for row, text in enumerate(seller)]
    main.append(Cell(0, 3, labels.title, "title"))
    details = [*detail_fields(inv, labels), ("Currency", inv.loc.currency)]
    for row, (label, value) in enumerate(details, start=2):
        main += [Cell(row, 2, label, "bold"), Cell(row, 3, value, "date" if isinstance(value, date) else "text")]
    buyer = [labels.customer, inv.buyer.name, *inv.buyer.address]
    main += [Cell(row, 0, text, "bold" if row == 8 else "text") for row, text in enumerate(buyer, start=8)]
    table = [Cell(0, col, header, "bold") for col, header in enumerate(labels.headers)]
    for row, line in enumerate(inv.lines, start=1):
        table += [
            Cell(row, 0, line.description),
            Cell(row, 1, line.quantity, "qty"),
            Cell(row, 2, line.unit_price, "money"),
            Cell(row, 3, line.amount, "money"),
        ]
    totals_row = 16 if split else 16 + len(inv.lines) + 1
    values = (inv.subtotal, inv.tax, inv.total)
    for row, ((label, _), value) in enumerate(zip(total_rows(inv, labels), values), start=totals_row):
        main += [Cell(row, 2, label, "bold"), Cell(row, 3, value, "money")]
    if split:
        main.append(Cell(14, 0, "Line items: see sheet 'Items'"))
        return {"Invoice": main, "Items": table}
    return {"Invoice": main + [replace(cell, row=cell.row + 14) for cell in table]}


COLUMN_WIDTHS = (44, 12, 24, 16)


def xlsx_bytes(sheets: dict[str, list[Cell]], date_format: str, money_format: str) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, cells in sheets.items():
        sheet = workbook.create_sheet(title)
        for cell in cells:
            value = num(cell.value) if isinstance(cell.value, Decimal) else cell.value
            target = sheet.cell(row=cell.row + 1, column=cell.col + 1, value=value)
            if cell.kind in ("title", "bold"):
                target.font = Font(bold=True, size=14 if cell.kind == "title" else 11)
            elif cell.kind in ("money", "date"):
                target.number_format = money_format if cell.kind == "money" else date_format
        for letter, width in zip("ABCD", COLUMN_WIDTHS):
            sheet.column_dimensions[letter].width = width
    workbook.properties.creator = "Quarry examples"
    workbook.properties.created = workbook.properties.modified = FIXED_TIME.replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return normalized_zip(buffer.getvalue())


def xls_bytes(sheets: dict[str, list[Cell]], date_format: str, money_format: str) -> bytes:
    styles = {
        "text": xlwt.XFStyle(),
        "qty": xlwt.XFStyle(),
        "title": xlwt.easyxf("font: bold on, height 280"),
        "bold": xlwt.easyxf("font: bold on"),
        "money": xlwt.easyxf(num_format_str=money_format),
        "date": xlwt.easyxf(num_format_str=date_format),
    }
    book = xlwt.Workbook(encoding="utf-8")
    for title, cells in sheets.items():
        sheet = book.add_sheet(title)
        for cell in cells:
            value = float(cell.value) if isinstance(cell.value, Decimal) else cell.value
            sheet.write(cell.row, cell.col, value, styles[cell.kind])
        for col, width in enumerate(COLUMN_WIDTHS):
            sheet.col(col).width = width * 256
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


SPREADSHEET_FORMATS = {  # fmt_date style -> (Excel date format, how amounts are shown)
    "us": ("mm/dd/yyyy", '"$"#,##0.00'),
    "iso": ("yyyy-mm-dd", '"€"#,##0.00'),
    "dmy": ("DD/MM/YYYY", '"£"#,##0.00'),
}


def invoice_spreadsheet(inv: Invoice, labels: Labels, kind: str) -> bytes:
    """The invoice as an .xlsx (``xlsx-two-sheets``: items on their own sheet) or an .xls workbook."""
    date_format, money_format = SPREADSHEET_FORMATS[inv.loc.date]
    sheets = invoice_sheets(inv, labels, split=kind == "xlsx-two-sheets")
    return (xls_bytes if kind == "xls" else xlsx_bytes)(sheets, date_format, money_format)


# --- Invoices as data: csv, json, xml, html, plain text, email --------------------------------------------------


def slug(name: str) -> str:
    """'Brightline Analytics LLC' -> 'brightline': for made-up email addresses and IDs."""
    return re.sub(r"[^a-z]", "", name.lower().split()[0])


def vat_id(party: Party) -> str | None:
    """The VAT number among a party's extra lines: 'USt-IdNr. DE 274 118 593' -> 'DE274118593'."""
    for line in party.extra:
        if line.startswith(("VAT", "TVA", "USt")):
            return re.sub(r"[^A-Z0-9]", "", line.split(maxsplit=1)[1].removeprefix("No. ").removeprefix("Reg. "))
    return None


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")


def invoice_items_csv(inv: Invoice) -> bytes:
    """The item table alone, as an order system exports it."""
    return csv_bytes([["Item", "Quantity", "Price", "Total"], *(list(item_cells(line, inv.loc)) for line in inv.lines)])


def invoice_keyvalue_csv(inv: Invoice) -> bytes:
    """``field,value`` rows for the header, then the item table, as a small-business tool exports one invoice."""
    loc = inv.loc
    header = [
        ["field", "value"],
        ["Invoice Number", inv.number],
        ["Invoice Date", loc.day(inv.issued)],
        ["Due Date", loc.day(inv.due)],
        ["Vendor", inv.seller.name],
        ["Customer", inv.buyer.name],
        ["Currency", loc.currency],
        ["Subtotal", loc.amount(inv.subtotal)],
        ["Sales Tax", loc.amount(inv.tax)],
        ["Total", loc.amount(inv.total)],
        [],
        ["Description", "Qty", "Unit Price", "Amount"],
    ]
    return csv_bytes(header + [list(item_cells(line, loc)) for line in inv.lines])


def invoice_export_csv(inv: Invoice) -> bytes:
    """A German ERP export: one row per item repeating the header fields, ';'-separated, with a BOM."""
    loc = inv.loc
    columns = (
        "Rechnungsnummer Rechnungsdatum Fälligkeit Lieferant Kunde Pos Beschreibung Menge Einzelpreis Betrag Währung"
    )
    rows = [columns.split()]
    for index, line in enumerate(inv.lines, start=1):
        head = [inv.number, loc.day(inv.issued), loc.day(inv.due), inv.seller.name, inv.buyer.name, str(index)]
        rows.append([*head, *item_cells(line, loc), loc.currency])
    return csv_bytes(rows, delimiter=";", bom=True)


def json_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def invoice_nested_json(inv: Invoice) -> bytes:
    """Nested JSON with the invoicing tool's own key names."""
    return json_bytes(
        {
            "invoice_no": inv.number,
            "issued_on": inv.issued.isoformat(),
            "payment": {"due_on": inv.due.isoformat(), "terms": "30 Tage netto", "iban": "DE89370400440532013000"},
            "vendor": {"name": inv.seller.name, "address": list(inv.seller.address), "vat_id": vat_id(inv.seller)},
            "bill_to": {"name": inv.buyer.name, "address": list(inv.buyer.address)},
            "currency": inv.loc.currency,
            "lines": [
                {
                    "pos": index,
                    "text": line.description,
                    "qty": num(line.quantity),
                    "price": num(line.unit_price),
                    "line_total": num(line.amount),
                }
                for index, line in enumerate(inv.lines, start=1)
            ],
            "totals": {
                "net": num(inv.subtotal),
                "vat_rate": num(inv.tax_rate),
                "vat": num(inv.tax),
                "gross": num(inv.total),
            },
        }
    )


def invoice_api_json(inv: Invoice, seed: str) -> bytes:
    """A payment platform's API object: amounts in cents, timestamps with a UTC offset, lower-case currency."""
    rng = random.Random(seed)
    issued = datetime.combine(inv.issued, time(rng.randrange(8, 18), rng.randrange(60), rng.randrange(60)))

    def cents(value: Decimal) -> int:
        return int(value * 100)

    def identifier(prefix: str) -> str:
        return prefix + "".join(
            rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(24)
        )

    lines = [
        {
            "id": identifier("il_"),
            "description": line.description,
            "quantity": num(line.quantity),
            "unit_amount": cents(line.unit_price),
            "amount": cents(line.amount),
        }
        for line in inv.lines
    ]
    return json_bytes(
        {
            "id": identifier("in_"),
            "object": "invoice",
            "number": inv.number,
            "status": "open",
            "account_name": inv.seller.name,
            "customer": identifier("cus_"),
            "customer_name": inv.buyer.name,
            "customer_email": f"ap@{slug(inv.buyer.name)}.example",
            "currency": inv.loc.currency.lower(),
            "created": f"{issued:%Y-%m-%dT%H:%M:%S}-07:00",
            "due_date": f"{inv.due}T23:59:59-07:00",
            "lines": {"object": "list", "data": lines},
            "subtotal": cents(inv.subtotal),
            "tax": cents(inv.tax),
            "total": cents(inv.total),
            "amount_due": cents(inv.total),
            "amount_paid": 0,
        }
    )


def xml_bytes(node: tuple, namespaces: dict[str, str]) -> bytes:
    """XML from nested ``(tag, text or [children], {attributes})`` tuples, tags written ``prefix:name``."""

    def build(spec: tuple) -> ET.Element:
        tag, content, *attrs = spec
        prefix, _, local = tag.rpartition(":")
        element = ET.Element(f"{{{namespaces[prefix]}}}{local}", attrs[0] if attrs else {})
        if isinstance(content, list):
            element.extend(build(child) for child in content)
        else:
            element.text = content
        return element

    for prefix, uri in namespaces.items():
        ET.register_namespace(prefix, uri)
    root = build(node)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


UBL_NAMESPACES = {
    "": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CII_NAMESPACES = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


def invoice_ubl(inv: Invoice) -> bytes:
    """The invoice in OASIS UBL 2.1, the EN 16931 syntax behind XRechnung and Peppol."""
    money = {"currencyID": inv.loc.currency}

    def amount(tag: str, value: Decimal) -> tuple:
        return (tag, f"{value:.2f}", money)

    def party(p: Party) -> tuple:
        postcode, _, city = p.address[1].partition(" ")
        address = [("cbc:StreetName", p.address[0]), ("cbc:CityName", city), ("cbc:PostalZone", postcode)]
        tax = [("cac:PartyTaxScheme", [("cbc:CompanyID", vat_id(p)), ("cac:TaxScheme", [("cbc:ID", "VAT")])])]
        return (
            "cac:Party",
            [
                ("cac:PartyName", [("cbc:Name", p.name)]),
                ("cac:PostalAddress", [*address, ("cac:Country", [("cbc:IdentificationCode", "DE")])]),
                *(tax if vat_id(p) else []),
                ("cac:PartyLegalEntity", [("cbc:RegistrationName", p.name)]),
            ],
        )

    category = [
        ("cbc:ID", "S"),
        ("cbc:Percent", fmt_number(inv.tax_rate, "plain")),
        ("cac:TaxScheme", [("cbc:ID", "VAT")]),
    ]
    subtotal = [
        amount("cbc:TaxableAmount", inv.subtotal),
        amount("cbc:TaxAmount", inv.tax),
        ("cac:TaxCategory", category),
    ]
    lines = [
        (
            "cac:InvoiceLine",
            [
                ("cbc:ID", str(index)),
                ("cbc:InvoicedQuantity", fmt_number(line.quantity, "plain"), {"unitCode": "C62"}),
                amount("cbc:LineExtensionAmount", line.amount),
                ("cac:Item", [("cbc:Name", line.description)]),
                ("cac:Price", [amount("cbc:PriceAmount", line.unit_price)]),
            ],
        )
        for index, line in enumerate(inv.lines, start=1)
    ]
    document = (
        "Invoice",
        [
            ("cbc:CustomizationID", "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"),
            ("cbc:ID", inv.number),
            ("cbc:IssueDate", inv.issued.isoformat()),
            ("cbc:DueDate", inv.due.isoformat()),
            ("cbc:InvoiceTypeCode", "380"),
            ("cbc:DocumentCurrencyCode", inv.loc.currency),
            ("cbc:BuyerReference", inv.po),
            ("cac:AccountingSupplierParty", [party(inv.seller)]),
            ("cac:AccountingCustomerParty", [party(inv.buyer)]),
            ("cac:TaxTotal", [amount("cbc:TaxAmount", inv.tax), ("cac:TaxSubtotal", subtotal)]),
            (
                "cac:LegalMonetaryTotal",
                [
                    amount("cbc:LineExtensionAmount", inv.subtotal),
                    amount("cbc:TaxExclusiveAmount", inv.subtotal),
                    amount("cbc:TaxInclusiveAmount", inv.total),
                    amount("cbc:PayableAmount", inv.total),
                ],
            ),
            *lines,
        ],
    )
    return xml_bytes(document, UBL_NAMESPACES)


def invoice_cii(inv: Invoice) -> bytes:
    """The invoice in UN/CEFACT Cross Industry Invoice, the XML inside Factur-X and ZUGFeRD PDFs; dates are
    written yyyymmdd (format 102)."""

    def when(day: date) -> list:
        return [("udt:DateTimeString", f"{day:%Y%m%d}", {"format": "102"})]

    def party(tag: str, p: Party) -> tuple:
        postcode, _, city = p.address[1].partition(" ")
        address = [
            ("ram:PostcodeCode", postcode),
            ("ram:LineOne", p.address[0]),
            ("ram:CityName", city),
            ("ram:CountryID", "FR"),
        ]
        tax = [("ram:SpecifiedTaxRegistration", [("ram:ID", vat_id(p), {"schemeID": "VA"})])]
        return (tag, [("ram:Name", p.name), ("ram:PostalTradeAddress", address), *(tax if vat_id(p) else [])])

    rate = fmt_number(inv.tax_rate, "plain")
    vat = [("ram:TypeCode", "VAT"), ("ram:CategoryCode", "S"), ("ram:RateApplicablePercent", rate)]
    items = [
        (
            "ram:IncludedSupplyChainTradeLineItem",
            [
                ("ram:AssociatedDocumentLineDocument", [("ram:LineID", str(index))]),
                ("ram:SpecifiedTradeProduct", [("ram:Name", line.description)]),
                (
                    "ram:SpecifiedLineTradeAgreement",
                    [("ram:NetPriceProductTradePrice", [("ram:ChargeAmount", f"{line.unit_price:.2f}")])],
                ),
                (
                    "ram:SpecifiedLineTradeDelivery",
                    [("ram:BilledQuantity", fmt_number(line.quantity, "plain"), {"unitCode": "C62"})],
                ),
                (
                    "ram:SpecifiedLineTradeSettlement",
                    [
                        ("ram:ApplicableTradeTax", vat),
                        (
                            "ram:SpecifiedTradeSettlementLineMonetarySummation",
                            [("ram:LineTotalAmount", f"{line.amount:.2f}")],
                        ),
                    ],
                ),
            ],
        )
        for index, line in enumerate(inv.lines, start=1)
    ]
    header_tax = [
        ("ram:CalculatedAmount", f"{inv.tax:.2f}"),
        ("ram:TypeCode", "VAT"),
        ("ram:BasisAmount", f"{inv.subtotal:.2f}"),
        ("ram:CategoryCode", "S"),
        ("ram:RateApplicablePercent", rate),
    ]
    summation = [
        ("ram:LineTotalAmount", f"{inv.subtotal:.2f}"),
        ("ram:TaxBasisTotalAmount", f"{inv.subtotal:.2f}"),
        ("ram:TaxTotalAmount", f"{inv.tax:.2f}", {"currencyID": inv.loc.currency}),
        ("ram:GrandTotalAmount", f"{inv.total:.2f}"),
        ("ram:DuePayableAmount", f"{inv.total:.2f}"),
    ]
    settlement = [
        ("ram:InvoiceCurrencyCode", inv.loc.currency),
        ("ram:ApplicableTradeTax", header_tax),
        ("ram:SpecifiedTradePaymentTerms", [("ram:DueDateDateTime", when(inv.due))]),
        ("ram:SpecifiedTradeSettlementHeaderMonetarySummation", summation),
    ]
    agreement = [party("ram:SellerTradeParty", inv.seller), party("ram:BuyerTradeParty", inv.buyer)]
    context = [("ram:GuidelineSpecifiedDocumentContextParameter", [("ram:ID", "urn:cen.eu:en16931:2017")])]
    document = [("ram:ID", inv.number), ("ram:TypeCode", "380"), ("ram:IssueDateTime", when(inv.issued))]
    transaction = [
        *items,
        ("ram:ApplicableHeaderTradeAgreement", agreement),
        ("ram:ApplicableHeaderTradeDelivery", []),
        ("ram:ApplicableHeaderTradeSettlement", settlement),
    ]
    root = (
        "rsm:CrossIndustryInvoice",
        [
            ("rsm:ExchangedDocumentContext", context),
            ("rsm:ExchangedDocument", document),
            ("rsm:SupplyChainTradeTransaction", transaction),
        ],
    )
    return xml_bytes(root, CII_NAMESPACES)


def text_table(
    headers: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...], left: int = 1
) -> list[str]:
    """A fixed-width table: the first ``left`` columns left-aligned, the others right-aligned."""

    def line(cells: tuple[str, ...]) -> str:
        padded = (c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        return "".join(padded).rstrip()

    return [line(headers), "-" * sum(widths), *map(line, rows)]


def invoice_text(inv: Invoice, labels: Labels) -> bytes:
    """A fixed-width text invoice, the way older accounting systems email them."""
    out = [inv.seller.name, *inv.seller.address, *inv.seller.extra, "", labels.title.center(72).rstrip(), ""]
    out += [f"{label:<20}{value}" for label, value in detail_rows(inv, labels)]
    out += ["", labels.customer, inv.buyer.name, *inv.buyer.address, ""]
    out += text_table(labels.headers, [item_cells(line, inv.loc) for line in inv.lines], (40, 10, 11, 11))
    out += [""] + [f"{label:>54}{value:>18}" for label, value in total_rows(inv, labels)]
    return ("\n".join([*out, "", *labels.notes]) + "\n").encode()


HTML_STYLE = """body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:760px;margin:2em auto}
table{border-collapse:collapse;width:100%}th,td{padding:6px 8px;border-bottom:1px solid #ddd;text-align:left}
.num{text-align:right}.muted{color:#777;font-size:90%}"""


def html_page(title: str, body: str) -> bytes:
    head = f'<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n<style>\n{HTML_STYLE}\n</style>'
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>\n{head}\n</head>\n<body>\n{body}\n</body>\n</html>\n'.encode()


def html_table(headers: tuple[str, ...], rows: list[tuple[str, ...]], *, left: int = 1, css: str = "") -> str:
    """An HTML table; columns after the first ``left`` hold numbers and are right-aligned."""

    def row(cells: tuple[str, ...], tag: str) -> str:
        return "<tr>" + "".join(
            f'<{tag}{" class=num" if i >= left else ""}>{html.escape(c)}</{tag}>' for i, c in enumerate(cells)
        ) + "</tr>"  # fmt: skip

    body = "\n".join(row(cells, "td") for cells in rows)
    head = f"<thead>{row(headers, 'th')}</thead>\n" if headers else ""
    return f"<table{f' class={css}' if css else ''}>\n{head}<tbody>\n{body}\n</tbody>\n</table>"


def invoice_html(inv: Invoice, labels: Labels) -> bytes:
    """An invoice as a customer portal shows it: reference block as a definition list, items as a table."""
    esc = html.escape
    details = "\n".join(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>" for label, value in detail_rows(inv, labels))
    buyer = "<br>".join(map(esc, (inv.buyer.name, *inv.buyer.address)))
    number, seller = esc(inv.number), "<br>".join(map(esc, inv.seller.address))
    body = f"""<header><h1>{esc(inv.seller.name)}</h1><p class="muted">{seller}</p></header>
<nav class="muted"><a href="/account">My account</a> · <a href="/invoices">Invoices</a> · <a href="/help">Help</a></nav>
<h2>{esc(labels.title)} {number}</h2>
<dl>
{details}
</dl>
<section><h3>{esc(labels.customer)}</h3><p>{buyer}</p></section>
{html_table(labels.headers, [item_cells(line, inv.loc) for line in inv.lines])}
{html_table((), total_rows(inv, labels), css="totals")}
<p><a href="/invoices/{number}/pay">Pay now</a> · <a href="/invoices/{number}.pdf">Download PDF</a></p>
<footer class="muted">{"<br>".join(map(esc, labels.notes))}</footer>"""
    return html_page(f"{labels.title} {inv.number} – {inv.seller.name}", body)


def email_bytes(
    *,
    sender: str,
    to: str,
    subject: str,
    when: datetime,
    message_id: str,
    plain: str | None = None,
    html_body: str | None = None,
    attachments: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    """An RFC 822 message with fixed Date, Message-ID and MIME boundaries, so it is the same on every run."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = email.utils.format_datetime(when)
    message["Message-ID"] = message_id
    if plain is not None:
        message.set_content(plain)
    if html_body is not None:
        if plain is None:
            message.set_content(html_body, subtype="html")
        else:
            message.add_alternative(html_body, subtype="html")
    for filename, data in attachments:
        message.add_attachment(data, maintype="application", subtype="pdf", filename=filename)
    for index, part in enumerate(part for part in message.walk() if part.is_multipart()):
        part.set_boundary(f"===============quarry-example-{index}==")
    return message.as_bytes(policy=email.policy.default)


def invoice_email(inv: Invoice, labels: Labels, layout: Layout) -> bytes:
    """A short covering email from the seller's accounts team with the invoice attached as a PDF."""
    loc, domain = inv.loc, f"{slug(inv.seller.name)}.example"
    body = f"""Dear Accounts Team,

Please find attached our invoice {inv.number} dated {loc.day(inv.issued)} for {loc.cash(inv.total)},
payable by {loc.day(inv.due)}.

If you have any questions, just reply to this email.

Kind regards,
Emma Clarke
Credit Control
{inv.seller.name}
"""
    return email_bytes(
        sender=f"Emma Clarke <accounts@{domain}>",
        to=f"invoices@{slug(inv.buyer.name)}.example",
        subject=f"Invoice {inv.number} from {inv.seller.name}",
        when=datetime.combine(inv.issued, time(16, 5), UTC),
        message_id=f"<{inv.number.lower()}.invoice@{domain}>",
        plain=body,
        attachments=((f"{inv.number}.pdf", pdf_document(invoice_pages(inv, labels, layout))),),
    )


# --- Invoices: every format from one table ---------------------------------------------------------------------

PAGE_OUTPUTS = ("pdf", "pdf-scan", "png", "jpeg", "webp", "heic")
DATA_OUTPUTS = {  # output -> (inputType, writer(invoice, spec))
    "docx": ("docx", lambda inv, spec: invoice_docx(inv, spec.labels, two_column=False)),
    "docx-two-column": ("docx", lambda inv, spec: invoice_docx(inv, spec.labels, two_column=True)),
    "xlsx": ("xlsx", lambda inv, spec: invoice_spreadsheet(inv, spec.labels, "xlsx")),
    "xlsx-two-sheets": ("xlsx", lambda inv, spec: invoice_spreadsheet(inv, spec.labels, "xlsx-two-sheets")),
    "xls": ("xls", lambda inv, spec: invoice_spreadsheet(inv, spec.labels, "xls")),
    "csv-items": ("csv", lambda inv, spec: invoice_items_csv(inv)),
    "csv-keyvalue": ("csv", lambda inv, spec: invoice_keyvalue_csv(inv)),
    "csv-export": ("csv", lambda inv, spec: invoice_export_csv(inv)),
    "json-nested": ("json", lambda inv, spec: invoice_nested_json(inv)),
    "json-api": ("json", lambda inv, spec: invoice_api_json(inv, spec.name + "/ids")),
    "xml-ubl": ("xml", lambda inv, spec: invoice_ubl(inv)),
    "xml-cii": ("xml", lambda inv, spec: invoice_cii(inv)),
    "html": ("html", lambda inv, spec: invoice_html(inv, spec.labels)),
    "text": ("text", lambda inv, spec: invoice_text(inv, spec.labels)),
    "email": ("email", lambda inv, spec: invoice_email(inv, spec.labels, spec.layout)),
}

NORTHWIND = Party(
    "Northwind Office Supply Co.",
    ("1450 Commerce Drive", "Columbus, OH 43215"),
    ("Phone (614) 555-0142", "billing@northwind-office.example"),
)
BRIGHTLINE = Party("Brightline Analytics LLC", ("220 Market Street, Suite 400", "San Francisco, CA 94105"))
ACME = Party("Acme Industrial Fasteners, Inc.", ("78 Foundry Road", "Pittsburgh, PA 15222"), ("Tel. 412-555-0199",))
HARROW = Party("Harrow & Finch Ltd", ("Unit 4, Canal Wharf", "Leeds LS11 5PS"), ("VAT Reg. No. GB 284 1934 27",))
MUELLER = Party(
    "Müller Maschinenbau GmbH",
    ("Industriestraße 12", "70565 Stuttgart"),
    ("USt-IdNr. DE 812 345 678", "Amtsgericht Stuttgart HRB 20458"),
)
RHEINLAND = Party("Rheinland Bürotechnik GmbH & Co. KG", ("Hansaring 88", "50670 Köln"), ("USt-IdNr. DE298776104",))
SCHNEIDER = Party("Schneider Elektrotechnik AG", ("Am Hafen 3", "28217 Bremen"), ("USt-IdNr. DE 274 118 593",))
DUPONT = Party(
    "Dupont Emballages SAS", ("3 allée Blériot", "93000 Bobigny"), ("SIRET 532 118 904 00017", "TVA FR23532118904")
)
SUNDARAM = Party(
    "Sundaram Textiles Pvt. Ltd.",
    ("No. 42, Avinashi Road", "Coimbatore, Tamil Nadu 641018"),
    ("GSTIN 33AABCS1429B1ZX",),
)
VANDIJK = Party("Van Dijk Horeca Groothandel B.V.", ("Kruisweg 610", "2132 NA Hoofddorp"), ("VAT NL852147336B01",))


@dataclass(frozen=True)
class InvoiceSpec:
    """One invoice document: who, in which wording and layout, in which format."""

    name: str
    output: str  # one of PAGE_OUTPUTS or DATA_OUTPUTS
    loc: Locale
    seller: Party
    buyer: Party
    labels: Labels
    catalogue: str
    tax: str  # percent
    number: str  # pattern, {n} is a random number
    lines: int = 4
    due_days: int = 30
    layout: Layout = Layout()
    fields: tuple[str, ...] = ()  # the fields the document shows, when not all of them
    tags: tuple[str, ...] = ()


INVOICES = [
    InvoiceSpec(
        "invoice-northwind-us.pdf",
        "pdf",
        US,
        NORTHWIND,
        Party("Riverside Dental Group", ("88 River Road, Suite 200", "Dayton, OH 45402")),
        Labels(
            tax="Sales tax ({rate})",
            po="PO Number:",
            notes=(
                "Payment terms: Net 30",
                "Please make checks payable to Northwind Office Supply Co.",
                "Thank you for your business!",
            ),
        ),
        "office",
        "7.5",
        "INV-2024-{n:04d}",
    ),
    InvoiceSpec(
        "invoice-harrow-finch-uk.pdf",
        "pdf",
        UK,
        HARROW,
        Party("Taylor Marketing Ltd", ("2 Wellington Place", "Leeds LS1 4AP")),
        Labels(
            number="Invoice No.",
            date="Dated",
            due="Payment due",
            customer="Customer:",
            headers=("Item", "Quantity", "Price", "Total"),
            tax="VAT ({rate})",
            total="Balance Due",
            customer_no="Account No.",
            notes=("Bank: Northern Counties Bank · Sort code 40-11-62 · Account 81234567", "Terms: 30 days"),
        ),
        "office",
        "20",
        "HF{n:05d}",
        lines=3,
        layout=Layout("two_column", "columns", "times"),
    ),
    InvoiceSpec(
        "invoice-brightline-stacked.pdf",
        "pdf",
        replace(US, date="us_long", money="USD {n}"),
        BRIGHTLINE,
        Party("Oakridge Public Library", ("1200 Oak Avenue", "Fremont, CA 94538")),
        Labels(
            title="Invoice",
            number="INVOICE #",
            date="ISSUED",
            due="DUE",
            issuer="From:",
            customer="Sold to:",
            tax="Sales tax ({rate})",
            total="Amount Due",
            notes=("Pay online at pay.brightline.example or by ACH to routing 121000358, account 004417882.",),
        ),
        "consulting",
        "7.25",
        "BA-{n:04d}",
        lines=3,
        layout=Layout("parties", "stacked", "dejavu"),
    ),
    InvoiceSpec(
        "rechnung-mueller-maschinenbau.pdf",
        "pdf",
        DE,
        MUELLER,
        Party("Brenner Metallbau GmbH & Co. KG", ("Gewerbepark 7", "73033 Göppingen")),
        replace(
            DE_LABELS,
            customer_no="Kundennummer",
            po="Ihre Bestellung",
            notes=(
                "Zahlbar innerhalb von 14 Tagen ohne Abzug.",
                "Volksbank Stuttgart · IBAN DE89 3704 0044 0532 0130 00 · BIC GENODES1VBS",
            ),
        ),
        "maschinen",
        "19",
        "RE-24-{n:05d}",
        lines=5,
        due_days=14,
        layout=Layout("letterhead", "columns", "dejavu"),
    ),
    InvoiceSpec(
        "facture-atelier-lumiere.pdf",
        "pdf",
        FR,
        Party("Atelier Lumière SARL", ("14 rue des Tanneurs", "69002 Lyon"), ("TVA FR41812345678",)),
        Party("Hôtel du Parc", ("27 avenue Foch", "69006 Lyon")),
        Labels(
            title="FACTURE",
            number="Facture n°",
            date="Date de facture :",
            due="Échéance :",
            customer="Client :",
            headers=("Désignation", "Qté", "Prix unitaire HT", "Montant HT"),
            subtotal="Total HT",
            tax="TVA {rate}",
            total="Total TTC",
            notes=(
                "Conditions de paiement : 30 jours à réception de facture.",
                "Indemnité forfaitaire pour frais de recouvrement en cas de retard : 40 €.",
            ),
        ),
        "eclairage",
        "20",
        "F2024-{n:04d}",
        layout=Layout("centered", "inline", "dejavu"),
    ),
    InvoiceSpec(
        "invoice-alpenblick-ch.pdf",
        "pdf",
        CH,
        Party("Alpenblick Software AG", ("Bahnhofstrasse 21", "8001 Zürich"), ("UID CHE-114.582.930 MWST",)),
        Party("Helvetia Treuhand GmbH", ("Spitalgasse 4", "3011 Bern")),
        Labels(
            number="Inv. No",
            date="Date",
            due="Payment due",
            issuer="Supplier:",
            customer="Customer:",
            tax="VAT {rate}",
            total="Total amount due",
            notes=("Payable to IBAN CH93 0076 2011 6238 5295 7 (Zürcher Kantonalbank).",),
        ),
        "software",
        "8.1",
        "2024-{n:04d}",
        lines=3,
        layout=Layout("parties", "columns"),
    ),
    InvoiceSpec(
        "invoice-sundaram-gst.pdf",
        "pdf",
        IN,
        SUNDARAM,
        Party("Greenfield Retail Pvt. Ltd.", ("14/2, 100 Feet Road, Indiranagar", "Bengaluru, Karnataka 560038")),
        Labels(
            title="TAX INVOICE",
            number="Bill No.",
            date="Dated",
            due=None,
            issuer="Sold by:",
            headers=("Item", "Quantity", "Price", "Total"),
            tax="IGST @ {rate}",
            total="Grand Total",
            notes=("Goods once sold will not be taken back. Subject to Coimbatore jurisdiction.",),
        ),
        "textiles",
        "12",
        "SKT/{n:04d}/24",
        layout=Layout("parties", "inline"),
    ),
    InvoiceSpec(
        "invoice-acme-multipage.pdf",
        "pdf",
        replace(US, date="iso"),
        ACME,
        Party("Kessler & Sons Hardware", ("310 Main Street", "Altoona, PA 16601")),
        Labels(
            number="Invoice #",
            date="Invoice Date",
            due="Due Date",
            customer="Sold to:",
            headers=("Item", "Quantity", "Price", "Total"),
            tax="Sales tax ({rate})",
            total="Grand Total",
            po="Customer PO",
            notes=("Remit to: Acme Industrial Fasteners, Inc., P.O. Box 4410, Pittsburgh, PA 15230",),
        ),
        "fasteners",
        "7",
        "10{n:04d}",
        lines=8,
        layout=Layout("two_column", "columns", rows_per_page=5, page_numbers=True),
        tags=("multipage",),
    ),
    InvoiceSpec(
        "rechnung-rheinland-scan.pdf",
        "pdf-scan",
        replace(DE, date="de_long", money="{n} EUR"),
        RHEINLAND,
        Party("Stadtwerke Neustadt", ("Am Wasserturm 1", "67433 Neustadt an der Weinstraße")),
        replace(
            DE_LABELS,
            number="RECHNUNGS-NR.",
            date="DATUM",
            due=None,
            notes=("Zahlbar sofort ohne Abzug.", "Sparkasse KölnBonn · IBAN DE12 3705 0198 0001 2345 67"),
        ),
        "buero",
        "19",
        "{n:06d}",
        layout=Layout("letterhead", "stacked"),
    ),
    InvoiceSpec(
        "invoice-cedar-pine-scan.pdf",
        "pdf-scan",
        US,
        Party("Cedar & Pine Landscaping", ("3021 Willow Lane", "Boulder, CO 80302"), ("(303) 555-0161",)),
        Party("Maple Court HOA", ("45 Maple Court", "Boulder, CO 80304")),
        Labels(number="Invoice No.", date="Date", due="Due", customer="Customer:", total="Balance Due"),
        "landscaping",
        "2.9",
        "{n:04d}",
        lines=3,
        layout=Layout("centered", "columns", "times"),
    ),
    InvoiceSpec(
        "invoice-blackwater-photo.jpg",
        "jpeg",
        UK,
        Party("Blackwater Print Works Ltd", ("17 Mill Lane", "Bristol BS1 6QA"), ("VAT No. GB 771 2218 90",)),
        Party("Harbourside Dental Practice", ("5 Quay Street", "Bristol BS1 4DB")),
        Labels(number="Invoice #", date="Issued", due="Due date", tax="VAT @ {rate}", total="Grand Total"),
        "printing",
        "20",
        "BPW-{n:04d}",
    ),
    InvoiceSpec(
        "invoice-pioneer-it.png",
        "png",
        replace(US, date="us_long"),
        Party("Pioneer IT Solutions LLC", ("5100 Westheimer Road, Suite 300", "Houston, TX 77056")),
        Party("Bayou City Realty", ("2200 Post Oak Blvd", "Houston, TX 77056")),
        Labels(
            number="Invoice Number:",
            date="Date:",
            issuer="Vendor:",
            customer="Customer:",
            total="Total amount due",
            notes=("Thank you for choosing Pioneer IT Solutions.",),
        ),
        "consulting",
        "8.25",
        "PIT-{n:05d}",
        lines=3,
        layout=Layout("parties", "inline"),
    ),
    InvoiceSpec(
        "facture-dupont-emballages.webp",
        "webp",
        replace(FR, date="dmy"),
        DUPONT,
        Party("Librairie Martin", ("8 place du Marché", "77300 Fontainebleau")),
        Labels(
            title="FACTURE",
            number="Facture N°",
            date="Date :",
            due="Date d'échéance :",
            customer="Client :",
            headers=("Désignation", "Quantité", "P.U. HT", "Total HT"),
            subtotal="Total HT",
            tax="TVA ({rate})",
            total="Net à payer",
        ),
        "emballage",
        "20",
        "FA{n:05d}",
        layout=Layout("two_column", "columns", "dejavu"),
    ),
    InvoiceSpec(
        "rechnung-schneider-elektro.heic",
        "heic",
        replace(DE, money="€ {n}"),
        SCHNEIDER,
        Party("Bäckerei Sonnenschein", ("Ostertorsteinweg 41", "28203 Bremen")),
        replace(
            DE_LABELS, number="Rechnung Nr.", date="Datum:", due=None, customer="Rechnung an:", tax="zzgl. {rate} MwSt."
        ),
        "elektro",
        "19",
        "2024-{n:04d}",
        layout=Layout("two_column", "inline", "dejavu"),
    ),
    InvoiceSpec(
        "invoice-maple-stone.docx",
        "docx",
        replace(UK, date="dmy", money="GBP {n}"),
        Party("Maple & Stone Interiors Ltd", ("40 Queen Street", "Edinburgh EH2 3NH"), ("VAT Reg. GB 318 4471 06",)),
        Party("Northgate Business Centre", ("1 Northgate", "Glasgow G1 1AA")),
        Labels(number="Invoice No.:", tax="VAT ({rate})", notes=("Payment by bank transfer within 30 days.",)),
        "interiors",
        "20",
        "MS-{n:04d}",
    ),
    InvoiceSpec(
        "rechnung-holzwerk-brandt.docx",
        "docx-two-column",
        replace(DE, date="de_long"),
        Party("Holzwerk Brandt GmbH", ("Sägewerkstraße 5", "83022 Rosenheim"), ("USt-IdNr. DE 301 558 442",)),
        Party("Praxis Dr. Weber", ("Ludwigsplatz 3", "83022 Rosenheim")),
        replace(
            DE_LABELS,
            number="Rechnungsnummer:",
            date="Rechnungsdatum:",
            due="Zahlbar bis:",
            customer="Rechnungsempfänger:",
            subtotal="Nettobetrag",
            tax="zzgl. MwSt. {rate}",
            notes=("Vielen Dank für Ihren Auftrag!",),
        ),
        "holz",
        "19",
        "R-{n:05d}",
        due_days=14,
    ),
    InvoiceSpec(
        "invoice-greenleaf-janitorial.xlsx",
        "xlsx",
        US,
        Party("Greenleaf Janitorial Services", ("880 Industrial Pkwy", "Madison, WI 53713"), ("(608) 555-0110",)),
        Party("Lakeview Medical Offices", ("2 Lakeview Drive", "Madison, WI 53703")),
        Labels(number="Invoice #", date="Invoice Date", due="Due Date", customer="Bill To", total="Total Due"),
        "cleaning",
        "5.5",
        "GL-{n:04d}",
    ),
    InvoiceSpec(
        "invoice-vandijk-two-sheets.xlsx",
        "xlsx-two-sheets",
        NL,
        VANDIJK,
        Party("Café Central Berlin GmbH", ("Oranienstraße 160", "10969 Berlin", "Germany")),
        Labels(
            number="Invoice number",
            date="Invoice date",
            due="Due date",
            customer="Customer",
            tax="VAT {rate} (reverse charge)",
            total="Total amount due",
        ),
        "horeca",
        "0",
        "VD24-{n:05d}",
        lines=6,
        due_days=14,
        tags=("multisheet", "reverse-charge"),
    ),
    InvoiceSpec(
        "invoice-kestrel-catering.xls",
        "xls",
        replace(UK, date="dmy"),
        Party("Kestrel Catering Supplies Ltd", ("Unit 12, Riverside Estate", "Norwich NR1 1SQ")),
        Party("The Old Mill Bistro", ("Mill Road", "Wymondham NR18 0AA")),
        Labels(
            number="Invoice No.",
            date="Date",
            due="Due",
            customer="Sold to:",
            headers=("Item", "Quantity", "Price", "Total"),
            tax="VAT {rate}",
            total="Amount Due",
        ),
        "horeca",
        "20",
        "K{n:05d}",
        lines=5,
    ),
    InvoiceSpec(
        "invoice-items.csv",
        "csv-items",
        replace(US, number="plain"),
        Party("Summit Print & Sign", ("9 Harbor Way", "Portland, ME 04101")),
        Party("Lighthouse Yoga Studio", ("48 Exchange Street", "Portland, ME 04101")),
        Labels(),
        "printing",
        "0",
        "{n}",
        lines=5,
        fields=("lineItems",),
        tags=("partial",),
    ),
    InvoiceSpec(
        "invoice-evergreen-keyvalue.csv",
        "csv-keyvalue",
        US,
        Party("Evergreen Coffee Roasters", ("61 Pike Street", "Seattle, WA 98101")),
        Party("Campus Café at Hillside College", ("900 College Way", "Bellingham, WA 98225")),
        Labels(),
        "horeca",
        "10.1",
        "ECR-{n:04d}",
        lines=3,
    ),
    InvoiceSpec(
        "rechnung-rheinland-export.csv",
        "csv-export",
        DE,
        RHEINLAND,
        Party("Kanzlei Hoffmann & Partner", ("Friesenplatz 9", "50672 Köln")),
        DE_LABELS,
        "buero",
        "19",
        "RB-{n:05d}",
        due_days=14,
        fields=("invoiceNumber", "invoiceDate", "dueDate", "issuer", "customerName", "currency", "lineItems"),
        tags=("partial",),
    ),
    InvoiceSpec(
        "invoice-mueller-nested.json",
        "json-nested",
        DE,
        MUELLER,
        Party("Hansa Verpackung GmbH", ("Billstraße 80", "20539 Hamburg")),
        DE_LABELS,
        "maschinen",
        "19",
        "RE-24-{n:05d}",
        lines=3,
    ),
    InvoiceSpec(
        "invoice-brightline-api.json",
        "json-api",
        US,
        BRIGHTLINE,
        Party("Harbor Point Credit Union", ("15 Harbor Point", "Oakland, CA 94607")),
        Labels(),
        "consulting",
        "0",
        "B3F1C2A9-{n:04d}",
        lines=3,
        tags=("minor-units",),
    ),
    InvoiceSpec(
        "invoice-schneider-ubl.xml",
        "xml-ubl",
        DE,
        SCHNEIDER,
        Party("Wohnbau Nordhafen GmbH", ("Überseetor 14", "28217 Bremen"), ("USt-IdNr. DE 815 502 217",)),
        replace(DE_LABELS, po="Leitweg-ID"),
        "elektro",
        "19",
        "SE-{n:06d}",
        tags=("ubl",),
    ),
    InvoiceSpec(
        "facture-dupont-cii.xml",
        "xml-cii",
        FR,
        DUPONT,
        Party("Fromagerie Caron SARL", ("12 rue de la République", "21000 Dijon"), ("TVA FR61408337165",)),
        Labels(),
        "emballage",
        "20",
        "FA{n:05d}",
        lines=3,
        tags=("cii",),
    ),
    InvoiceSpec(
        "invoice-summit-print.html",
        "html",
        replace(US, date="us_long"),
        Party("Summit Print & Sign", ("9 Harbor Way", "Portland, ME 04101")),
        Party("Lighthouse Yoga Studio", ("48 Exchange Street", "Portland, ME 04101")),
        Labels(
            title="Invoice",
            number="Invoice #",
            date="Issued",
            due="Due",
            customer="Billed to",
            tax="Sales tax ({rate})",
            total="Amount Due",
            notes=("Questions about this invoice? Email billing@summitprint.example.",),
        ),
        "printing",
        "5.5",
        "SPS-{n:05d}",
        lines=3,
    ),
    InvoiceSpec(
        "invoice-acme-plain.txt",
        "text",
        Locale("en", "USD", "plain", "iso", "{n} USD"),
        ACME,
        Party("Tri-County Builders Supply", ("2250 Route 22", "Monroeville, PA 15146")),
        Labels(
            number="Invoice No.",
            date="Invoice Date",
            due="Due Date",
            customer="Sold to:",
            headers=("Item", "Quantity", "Price", "Total"),
            tax="Sales tax {rate}",
            total="Total amount due",
            po="Your order",
            notes=("Terms: Net 30. Remit to P.O. Box 4410, Pittsburgh, PA 15230.",),
        ),
        "fasteners",
        "7",
        "10{n:04d}",
        lines=5,
    ),
    InvoiceSpec(
        "invoice-harrow-finch-email.eml",
        "email",
        UK,
        HARROW,
        Party("Pennine Accountants LLP", ("9 Park Square East", "Leeds LS1 2NE")),
        Labels(
            number="Invoice No.",
            date="Invoice Date",
            due="Due Date",
            customer="Customer:",
            tax="VAT {rate}",
            total="Amount Due",
            notes=("Bank: Northern Counties Bank · Sort code 40-11-62 · Account 81234567",),
        ),
        "office",
        "20",
        "HF{n:05d}",
        layout=Layout("letterhead", "columns"),
        tags=("attachment",),
    ),
]


def invoices(corpus: Corpus) -> None:
    """Invoices in every format: A4 pages (text PDF, scanned PDF, images), office files and data files."""
    for spec in INVOICES:
        inv = make_invoice(spec)
        if spec.output in PAGE_OUTPUTS:
            data, input_type, tags = page_document(invoice_pages(inv, spec.labels, spec.layout), spec.output, spec.name)
        else:
            input_type, writer = DATA_OUTPUTS[spec.output]
            data, tags = writer(inv, spec), []
        tags += ["invoice", spec.loc.lang, *spec.tags]
        corpus.add(spec.name, input_type, "invoice", inv.expected(spec.fields), tags, data)


# --- Receipts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Till:
    """How one shop's till prints a receipt."""

    subtotal: str | None = "SUBTOTAL"  # None: prices include tax, which is only shown
    tax: str = "TAX {rate}"
    total: str = "TOTAL"
    tender: str = "CASH"  # the payment line; {last4} becomes card digits
    change: str = "CHANGE"  # printed when paid cash
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ("THANK YOU!",)
    tax_table: tuple[str, str, str, str] | None = None  # rate / net / tax / gross columns, as German tills print
    width: int = 40


@dataclass(frozen=True)
class ReceiptSpec:
    name: str
    output: str  # text, or one of PAGE_OUTPUTS
    merchant: Party
    loc: Locale
    till: Till
    items: tuple[tuple[str, str], ...]  # what the shop sells: description, unit price
    tax: str  # percent
    payment: str  # cash, card or other


@dataclass
class Receipt:
    spec: ReceiptSpec
    when: datetime
    lines: list[Line]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        rate = Decimal(self.spec.tax)
        if self.spec.till.subtotal is None:  # included in the prices
            return self.subtotal - (self.subtotal * 100 / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        return (self.subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal if self.spec.till.subtotal is None else self.subtotal + self.tax

    def expected(self) -> dict:
        return {
            "merchant": self.spec.merchant.name,
            "date": self.when.date().isoformat(),
            "currency": self.spec.loc.currency,
            "total": num(self.total),
            "tax": num(self.tax),
            "paymentMethod": self.spec.payment,
            "items": [{"description": line.description, "amount": num(line.amount)} for line in self.lines],
        }


def receipt_lines(receipt: Receipt, rng: random.Random) -> list[str]:
    """The receipt as the till prints it, ``till.width`` characters wide."""
    spec, till, loc = receipt.spec, receipt.spec.till, receipt.spec.loc
    width, rate = till.width, loc.rate(Decimal(spec.tax))

    def pair(left: str, right: str) -> str:
        return left + right.rjust(width - len(left))

    def centered(lines) -> list[str]:
        return [line.center(width).rstrip() for line in lines]

    stamp = f"{loc.day(receipt.when.date())} {receipt.when:%H:%M}"
    out = centered((spec.merchant.name, *spec.merchant.address, *till.header))
    out += ["", pair(stamp, f"#{rng.randrange(1000, 9999)}"), "-" * width]
    for line in receipt.lines:
        if line.quantity == 1:
            out.append(pair(line.description, loc.amount(line.amount)))
        else:
            each = f"  {loc.qty(line.quantity)} x {loc.amount(line.unit_price)}"
            out += [line.description, pair(each, loc.amount(line.amount))]
    out.append("-" * width)
    if till.subtotal:
        out += [
            pair(till.subtotal, loc.amount(receipt.subtotal)),
            pair(till.tax.format(rate=rate), loc.amount(receipt.tax)),
        ]
    out.append(pair(till.total, loc.cash(receipt.total)))
    if spec.payment == "cash":
        tendered = next(Decimal(note) for note in (5, 10, 20, 50, 100) if note >= receipt.total)
        out += [pair(till.tender, loc.amount(tendered)), pair(till.change, loc.amount(tendered - receipt.total))]
    else:
        out.append(pair(till.tender.format(last4=rng.randrange(1000, 9999)), loc.amount(receipt.total)))
    if till.tax_table:
        cells = (rate, loc.amount(receipt.total - receipt.tax), loc.amount(receipt.tax), loc.amount(receipt.total))
        out += ["", "".join(cell.rjust(10) for cell in till.tax_table), "".join(cell.rjust(10) for cell in cells)]
    elif not till.subtotal:
        out.append(pair(till.tax.format(rate=rate), loc.amount(receipt.tax)))
    return out + [""] + centered(till.footer)


DE_TILL = Till(
    subtotal=None,
    tax="MwSt {rate}",
    total="SUMME EUR",
    tender="Bar",
    change="Rückgeld",
    tax_table=("MwSt", "Netto", "Steuer", "Brutto"),
    footer=("Vielen Dank für Ihren Einkauf!",),
)

RECEIPTS = [
    ReceiptSpec(
        "receipt-elm-street-hardware.txt",
        "text",
        Party("ELM STREET HARDWARE", ("412 Elm Street", "Northfield, MN 55057")),
        US,
        Till(header=("(507) 555-0187",), footer=("RETURNS WITHIN 30 DAYS WITH RECEIPT", "THANK YOU!")),
        (
            ("WD-40 11 OZ", "6.49"),
            ("DUCT TAPE 2IN X 60YD", "8.99"),
            ("WOOD SCREWS #8 1-1/4 100PK", "7.79"),
            ("PAINT ROLLER 9IN", "5.49"),
            ("LED BULB 60W 4PK", "9.98"),
            ("WORK GLOVES L", "12.99"),
        ),
        "7.375",
        "cash",
    ),
    ReceiptSpec(
        "kassenbon-baeckerei-sonnenschein.txt",
        "text",
        Party("Bäckerei Sonnenschein", ("Ostertorsteinweg 41", "28203 Bremen")),
        replace(DE, money="{n}"),
        DE_TILL,
        (
            ("Roggenbrot 750 g", "3.90"),
            ("Laugenbrezel", "0.85"),
            ("Croissant", "1.20"),
            ("Mohnbrötchen", "0.60"),
            ("Kaffee Crema to go", "2.90"),
            ("Apfelstrudel", "2.80"),
        ),
        "7",
        "cash",
    ),
    ReceiptSpec(
        "receipt-blue-door-cafe.png",
        "png",
        Party("Blue Door Café", ("1640 Pearl Street", "Boulder, CO 80302")),
        US,
        Till(tender="VISA ****{last4}", footer=("Tips are appreciated!", "bluedoorcafe.example")),
        (
            ("Oat Milk Latte 16oz", "5.75"),
            ("Drip Coffee 12oz", "3.25"),
            ("Blueberry Muffin", "3.95"),
            ("Avocado Toast", "9.50"),
            ("Chai Latte 12oz", "4.95"),
            ("Almond Croissant", "4.25"),
        ),
        "8.81",
        "card",
    ),
    ReceiptSpec(
        "kassenbon-loewen-apotheke.jpg",
        "jpeg",
        Party("Löwen-Apotheke", ("Marktplatz 2", "97070 Würzburg")),
        replace(DE, money="{n}"),
        replace(DE_TILL, tender="girocard ****{last4}", header=("Tel. 0931 555 120",), footer=("Gute Besserung!",)),
        (
            ("Ibuprofen 400 mg 20 St.", "4.95"),
            ("Nasenspray 10 ml", "3.49"),
            ("Vitamin D3 1000 IE 90 St.", "12.90"),
            ("Handcreme 75 ml", "6.45"),
            ("Pflaster Mix 20 St.", "3.99"),
        ),
        "19",
        "card",
    ),
    ReceiptSpec(
        "receipt-daily-grind.webp",
        "webp",
        Party("The Daily Grind Coffee Co.", ("3 Cathedral Walk", "Cardiff CF10 1AA")),
        replace(UK, date="dmy"),
        Till(
            subtotal=None,
            tax="VAT {rate} included",
            tender="CONTACTLESS VISA ****{last4}",
            header=("VAT No. 492 8812 37",),
        ),
        (
            ("Flat White", "3.40"),
            ("Cappuccino", "3.30"),
            ("Bacon Roll", "4.20"),
            ("Banana Bread", "2.95"),
            ("English Breakfast Tea", "2.40"),
        ),
        "20",
        "card",
    ),
    ReceiptSpec(
        "ticket-boulangerie-martin.heic",
        "heic",
        Party("Boulangerie Martin", ("5 rue Saint-Jean", "69005 Lyon")),
        replace(FR, date="dmy"),
        Till(
            subtotal=None,
            tax="dont TVA {rate}",
            total="TOTAL TTC",
            tender="CB ****{last4}",
            footer=("Merci de votre visite !",),
        ),
        (
            ("Baguette tradition", "1.30"),
            ("Pain au chocolat", "1.40"),
            ("Croissant", "1.20"),
            ("Tarte aux pommes", "3.80"),
            ("Éclair au café", "3.10"),
            ("Pain de campagne 400 g", "3.20"),
        ),
        "5.5",
        "card",
    ),
    ReceiptSpec(
        "receipt-kite-kettle-paypal.pdf",
        "pdf",
        Party("Kite & Kettle Ltd", ("Online shop · kiteandkettle.example",)),
        replace(UK, date="dmy"),
        Till(
            subtotal=None,
            tax="Includes VAT {rate}",
            tender="Paid with PayPal",
            header=("VAT No. GB 305 7719 42",),
            footer=("Thank you for shopping with us!",),
            width=46,
        ),
        (
            ("Enamel Mug, Duck Egg Blue", "14.00"),
            ("Loose Leaf Earl Grey 100 g", "8.50"),
            ("Tea Infuser, Stainless Steel", "6.75"),
            ("Linen Tea Towel, Stripe", "11.00"),
        ),
        "20",
        "other",
    ),
]
RECEIPT_LOOKS = {  # receipts are small print: scanned at 200 dpi; the JPEG is a photo of the slip on a table
    "png": Look(dpi=200),
    "jpeg": replace(LOOKS["jpeg"], dpi=200, surround=105, angle=1.2),
    "webp": replace(LOOKS["webp"], dpi=200),
    "heic": replace(LOOKS["heic"], dpi=200),
}


def receipts(corpus: Corpus) -> None:
    """Till receipts: tax added (US) or included (Europe), paid cash, by card or otherwise, as text, PDF and
    pictures of the paper slip."""
    for spec in RECEIPTS:
        rng = random.Random(spec.name)
        day = pick_date(rng, unambiguous=spec.loc.date == "dmy")
        when = datetime.combine(day, time(rng.randrange(7, 20), rng.randrange(60)))
        chosen = rng.sample(spec.items, rng.randrange(3, len(spec.items) + 1))
        receipt = Receipt(
            spec, when, [Line(text, Decimal(rng.choice((1, 1, 1, 2, 3))), Decimal(price)) for text, price in chosen]
        )
        text = receipt_lines(receipt, rng)
        if spec.output == "text":
            data, input_type, tags = ("\n".join(text) + "\n").encode(), "text", []
        else:
            data, input_type, tags = page_document(
                [text_page(text)], spec.output, spec.name, RECEIPT_LOOKS.get(spec.output)
            )
        corpus.add(spec.name, input_type, "receipt", receipt.expected(), ["receipt", spec.loc.lang, *tags], data)


# --- Bills of lading --------------------------------------------------------------------------------------------


def container_number(owner: str, serial: int) -> str:
    """An ISO 6346 container number with a valid check digit, e.g. NSCU4123456."""
    values, value = {}, 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        value += value % 11 == 0  # the letter values skip multiples of 11
        values[letter] = value
        value += 1
    code = f"{owner}{serial:06d}"
    total = sum((values[char] if char.isalpha() else int(char)) * 2**index for index, char in enumerate(code))
    return f"{code}{total % 11 % 10}"


@dataclass(frozen=True)
class BolLabels:
    title: str = "BILL OF LADING"
    number: str = "B/L No."
    shipper: str = "Shipper"
    consignee: str = "Consignee"
    notify: str = "Notify Party"
    carrier: str = "Carrier"
    references: str = "Export References"
    vessel: str = "Vessel / Voyage"
    loading: str = "Port of Loading"
    discharge: str = "Port of Discharge"
    shipped: str = "Shipped on Board"
    columns: tuple[str, ...] = (
        "Container No. / Seal No.",
        "No. of Pkgs",
        "Description of Goods",
        "Gross Weight (kg)",
        "Measurement (m³)",
    )
    total: str = "TOTAL"
    weight_places: int = 3


BOL_B = BolLabels(
    title="OCEAN BILL OF LADING",
    number="Bill of Lading Number",
    shipper="Shipper/Exporter",
    notify="Notify Party (complete name and address)",
    carrier="Ocean Carrier",
    references="Booking / Forwarder Ref.",
    vessel="Vessel & Voyage No.",
    loading="Port of Lading",
    discharge="Port of Discharge",
    shipped="Date of Shipment",
    columns=("Marks & Container Nos.", "Packages", "Description of Packages and Goods", "Gross Wt. KGS", "CBM"),
    total="TOTAL SHIPMENT",
    weight_places=0,
)


@dataclass(frozen=True)
class BolSpec:
    name: str
    output: str  # docx, or one of PAGE_OUTPUTS
    loc: Locale
    labels: BolLabels
    shipper: Party
    consignee: Party
    carrier: str
    owner_code: str  # the carrier's container prefix, e.g. NSCU
    vessel: str
    loading: str
    discharge: str
    goods: str
    unit: str  # CARTONS, PALLETS, BALES…
    containers: int
    notify: Party | None = None  # None: same as consignee


@dataclass(frozen=True)
class Container:
    number: str
    seal: str
    packages: int
    weight: Decimal  # kg
    volume: Decimal  # m³


@dataclass
class BillOfLading:
    spec: BolSpec
    number: str
    shipped: date
    voyage: str
    containers: list[Container]

    def expected(self) -> dict:
        spec = self.spec
        return {
            "billOfLadingNumber": self.number,
            "shipper": spec.shipper.name,
            "consignee": spec.consignee.name,
            "carrier": spec.carrier,
            "shipDate": self.shipped.isoformat(),
            "portOfLoading": spec.loading,
            "portOfDischarge": spec.discharge,
            "totalWeightKg": num(sum(c.weight for c in self.containers)),
            "containerNumbers": [c.number for c in self.containers],
            "packages": sum(c.packages for c in self.containers),
        }


def make_bol(spec: BolSpec) -> BillOfLading:
    rng = random.Random(spec.name)
    containers = []
    for _ in range(spec.containers):
        packages = rng.randrange(18, 40) if spec.unit in ("PALLETS", "CASES") else rng.randrange(120, 900)
        weight = Decimal(rng.randrange(6000, 24000))
        if spec.labels.weight_places:
            weight += Decimal(rng.randrange(10)) / 10
        number = container_number(spec.owner_code, rng.randrange(100000, 999999))
        containers.append(
            Container(
                number, str(rng.randrange(1000000, 9999999)), packages, weight, Decimal(rng.randrange(280, 680)) / 10
            )
        )
    return BillOfLading(
        spec,
        number=f"{spec.owner_code}{rng.randrange(100000000, 999999999)}",
        shipped=pick_date(rng, unambiguous=spec.loc.date == "dmy"),
        voyage=f"{rng.randrange(100, 999)}{rng.choice('EWNS')}",
        containers=containers,
    )


def bol_table(bol: BillOfLading) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """Container rows (number / seal, packages, goods, weight, volume) and the total row."""
    spec, style = bol.spec, bol.spec.loc.number

    def weight(value: Decimal) -> str:
        return fmt_number(value, style, spec.labels.weight_places)

    rows = [
        (
            f"{c.number} / {c.seal}",
            f"{c.packages} {spec.unit}",
            spec.goods,
            weight(c.weight),
            fmt_number(c.volume, style, 1),
        )
        for c in bol.containers
    ]
    total = (
        spec.labels.total,
        f"{fmt_number(Decimal(sum(c.packages for c in bol.containers)), style, 0)} {spec.unit}",
        "SHIPPER'S LOAD, STOW AND COUNT",
        weight(sum(c.weight for c in bol.containers)),
        fmt_number(sum(c.volume for c in bol.containers), style, 1),
    )
    return rows, total


def bol_fields(bol: BillOfLading) -> list[tuple[str, list[str]]]:
    """The boxes of the form, in reading order, as (label, lines)."""
    spec, labels, day = bol.spec, bol.spec.labels, bol.spec.loc.day
    notify = [spec.notify.name, *spec.notify.address] if spec.notify else ["SAME AS CONSIGNEE"]
    return [
        (labels.shipper, [spec.shipper.name, *spec.shipper.address]),
        (labels.number, [bol.number]),
        (labels.consignee, [spec.consignee.name, *spec.consignee.address]),
        (labels.carrier, [spec.carrier]),
        (labels.notify, notify),
        (labels.references, [f"Booking {bol.number[4:]}", "Freight: PREPAID"]),
        (labels.vessel, [f"{spec.vessel} / {bol.voyage}"]),
        (labels.loading, [spec.loading]),
        (labels.discharge, [spec.discharge]),
        (labels.shipped, [day(bol.shipped)]),
        ("Place and Date of Issue", [f"{spec.loading.split(',')[0]}, {day(bol.shipped + timedelta(days=1))}"]),
        ("Number of Original B/Ls", ["THREE (3)"]),
    ]


BOL_BOXES = [  # x, y, width, height of the form's boxes, in the order of bol_fields
    (12, 12, 98, 32), (110, 28, 88, 16), (12, 44, 98, 28), (110, 44, 88, 28), (12, 72, 98, 24), (110, 72, 88, 24),
    (12, 96, 62, 14), (74, 96, 62, 14), (136, 96, 62, 14),
    (12, 250, 62, 16), (74, 250, 62, 16), (136, 250, 62, 16),
]  # fmt: skip
BOL_COLUMNS = ((14, "L"), (82, "R"), (87, "L"), (170, "R"), (196, "R"))


def bol_page(bol: BillOfLading) -> Page:
    """A bill of lading form: boxed parties and references, the container table and the issue block."""
    page = Page()
    page.text(154, 22, bol.spec.labels.title, 14, bold=True, align="C")
    for (x, y, w, h), (label, lines) in zip(BOL_BOXES, bol_fields(bol)):
        page.box(x, y, w, h)
        page.text(x + 2, y + 4, label, 7, bold=True, grey=True)
        page.lines(x + 2, y + 9, lines, 9, step=4.2)
    page.box(12, 110, 186, 140)
    for (x, align), header in zip(BOL_COLUMNS, bol.spec.labels.columns):
        page.text(x, 116, header, 7, bold=True, align=align)
    page.rule(12, 118.5, 198)
    rows, total = bol_table(bol)
    y = 125
    for row in rows:
        container, seal = row[0].split(" / ")
        for (x, align), cell in zip(BOL_COLUMNS, (container, *row[1:])):
            page.text(x, y, cell, 9, align=align)
        page.text(14, y + 4.5, f"Seal: {seal}", 8, grey=True)
        y += 12
    page.rule(12, y - 4, 198)
    for (x, align), cell in zip(BOL_COLUMNS, total):
        page.text(x, y + 1, cell, 9, bold=True, align=align)
    page.text(105, 276, "Signed for the Carrier as agent: ______________________", 9, align="C")
    return page


def bol_docx(bol: BillOfLading) -> bytes:
    """A bill of lading typed into a Word form: a two-column field table and the container table."""
    doc = docx.Document()
    doc.styles["Normal"].font.size = Pt(9.5)
    doc.add_heading(bol.spec.labels.title, level=1)
    fields = [(label, "\n".join(lines)) for label, lines in bol_fields(bol)]
    docx_table(doc, [("Field", "Details"), *fields], numbers=False)
    doc.add_paragraph()
    rows, total = bol_table(bol)
    docx_table(doc, [bol.spec.labels.columns, *rows, total])
    return docx_bytes(doc)


BILLS_OF_LADING = [
    BolSpec(
        "bol-northsea-ningbo.pdf",
        "pdf",
        replace(NL, date="abbr"),
        BolLabels(),
        Party(
            "Ningbo Everbright Housewares Co., Ltd.",
            ("No. 88 Jiangnan Road, Beilun District", "Ningbo, Zhejiang 315800, China"),
        ),
        VANDIJK,
        "Northsea Container Lines",
        "NSCU",
        "NORTHSEA AURORA",
        "Ningbo, China",
        "Rotterdam, Netherlands",
        "PORCELAIN TABLEWARE",
        "CARTONS",
        2,
    ),
    BolSpec(
        "bol-coromandel-chennai.pdf",
        "pdf",
        replace(IN, date="dmy"),
        BOL_B,
        SUNDARAM,
        Party("Hanseatic Home Textiles GmbH", ("Große Elbstraße 145", "22767 Hamburg, Germany")),
        "Coromandel Shipping Lines",
        "CRMU",
        "COROMANDEL PEARL",
        "Chennai, India",
        "Hamburg, Germany",
        "COTTON HOME TEXTILES",
        "BALES",
        1,
        notify=Party("Kühne Zollagentur GmbH", ("Am Sandtorkai 1", "20457 Hamburg, Germany")),
    ),
    BolSpec(
        "bol-atlantic-crest-scan.pdf",
        "pdf-scan",
        replace(US, date="us_long"),
        BolLabels(),
        ACME,
        Party("Brabant Bouwmaterialen N.V.", ("Noorderlaan 133", "2030 Antwerpen, Belgium")),
        "Atlantic Crest Shipping",
        "ACSU",
        "ATLANTIC CREST",
        "Savannah, GA, USA",
        "Antwerp, Belgium",
        "STEEL FASTENERS",
        "PALLETS",
        3,
    ),
    BolSpec(
        "bol-meridian-hcmc.png",
        "png",
        replace(US, date="iso"),
        BOL_B,
        Party("Saigon Timberworks Export JSC", ("Lot C5, Tan Thuan EPZ, District 7", "Ho Chi Minh City, Vietnam")),
        Party("Pacific Coast Furniture Inc.", ("4100 E Airport Drive", "Ontario, CA 91761, USA")),
        "Meridian Ocean Lines",
        "MOLU",
        "MERIDIAN STAR",
        "Ho Chi Minh City, Vietnam",
        "Los Angeles, CA, USA",
        "WOODEN FURNITURE",
        "PACKAGES",
        2,
    ),
    BolSpec(  # a German forwarder's English form, with German number formatting (18.420,500)
        "bol-weser-bremerhaven.docx",
        "docx",
        DE,
        BolLabels(),
        MUELLER,
        Party("Gulf Coast Machinery LLC", ("8800 Clinton Drive", "Houston, TX 77029, USA")),
        "Weser Atlantic Line",
        "WALU",
        "WESER EXPRESS",
        "Bremerhaven, Germany",
        "Houston, TX, USA",
        "INDUSTRIAL MACHINERY PARTS",
        "CASES",
        2,
    ),
]


def bills_of_lading(corpus: Corpus) -> None:
    """Ocean bills of lading in two form wordings, as text PDF, scanned PDF, image and Word form."""
    for spec in BILLS_OF_LADING:
        bol = make_bol(spec)
        if spec.output == "docx":
            data, input_type, tags = bol_docx(bol), "docx", []
        else:
            data, input_type, tags = page_document([bol_page(bol)], spec.output, spec.name)
        corpus.add(spec.name, input_type, "bill_of_lading", bol.expected(), ["bill_of_lading", "en", *tags], data)


# --- Orders: confirmation emails and a web page ------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLabels:
    subject: str = "Your order #{number} is confirmed"
    greeting: str = "Hi {first},"
    intro: str = "Thanks for shopping with us! We've received your order and will email you again when it ships."
    number: str = "Order number:"
    date: str = "Order date:"
    headers: tuple[str, str, str, str] = ("SKU", "Item", "Qty", "Price")
    subtotal: str = "Subtotal"
    shipping_cost: str = "Shipping"
    total: str = "Total"
    shipping: str = "Shipping method:"
    address: str = "Delivery address:"
    closing: tuple[str, ...] = ("Questions? Just reply to this email.", "", "The {shop} team")


DE_ORDER = OrderLabels(
    subject="Bestellbestätigung – Ihre Bestellung {number}",
    greeting="Hallo {first},",
    intro="vielen Dank für Ihre Bestellung! Wir melden uns, sobald sie versandt ist.",
    number="Bestellnummer:",
    date="Bestelldatum:",
    headers=("Art.-Nr.", "Artikel", "Menge", "Preis"),
    subtotal="Zwischensumme",
    shipping_cost="Versand",
    total="Gesamtsumme",
    shipping="Versandart:",
    address="Lieferadresse:",
    closing=("Bei Fragen antworten Sie einfach auf diese E-Mail.", "", "Ihr Team von {shop}"),
)

SHOP_ITEMS = {
    "outdoor": [
        ("TH-TENT-2P", "Ridgeline 2-Person Tent", "289.00"),
        ("TH-SB-15", "Summit 15°F Sleeping Bag", "179.00"),
        ("TH-PAD-UL", "Ultralight Sleeping Pad", "89.95"),
        ("TH-STV-01", "Backpacking Stove", "54.50"),
        ("TH-HL-400", "Headlamp, 400 lumens", "34.99"),
        ("TH-SOCK-M", "Merino Hiking Socks (2 pairs)", "24.00"),
    ],
    "home": [
        ("LH-1042", "Linen Duvet Cover, Queen, Sage", "149.00"),
        ("LH-2210", "Stoneware Mug Set of 4", "42.00"),
        ("LH-3305", 'Cast Iron Skillet 10"', "39.90"),
        ("LH-0871", "Bamboo Cutting Board", "24.50"),
        ("LH-5120", "Wool Throw Blanket", "89.00"),
    ],
    "outdoor_de": [
        ("FW-10233", "Wanderrucksack 30 l, petrol", "119.95"),
        ("FW-20418", "Trekkingstöcke Carbon (Paar)", "89.90"),
        ("FW-31007", "Softshelljacke Herren, Gr. L", "149.00"),
        ("FW-40120", "Stirnlampe 300 lm", "29.95"),
        ("FW-55002", "Trinkflasche Edelstahl 0,75 l", "24.90"),
    ],
    "stationery": [
        ("PP-NB-A5-DOT", "A5 Dotted Notebook, Forest Green", "14.50"),
        ("PP-FP-M", "Fountain Pen, Medium Nib", "32.00"),
        ("PP-INK-BLK", "Bottled Ink 50 ml, Black", "9.75"),
        ("PP-WASHI-3", "Washi Tape Set (3 rolls)", "7.20"),
        ("PP-PLN-24", "2024 Weekly Planner", "22.00"),
    ],
    "office": [
        ("NW-CP-5R", "Copy paper, letter, 5 reams", "38.99"),
        ("NW-PEN-B50", "Ballpoint pens, blue, 50 pack", "12.49"),
        ("NW-TN-2420", "Toner cartridge TN-2420", "64.00"),
        ("NW-ENV-500", "Security envelopes #10, 500 ct", "27.50"),
        ("NW-CLIP-1K", "Paper clips, jumbo, 1,000 ct", "8.79"),
    ],
}


@dataclass(frozen=True)
class OrderSpec:
    name: str
    output: str  # page (an HTML page), plain, html (an HTML-only email) or forwarded
    loc: Locale
    shop: str
    shop_email: str
    items: str  # a SHOP_ITEMS key
    customer: str
    customer_email: str
    shipping: str
    shipping_cost: str
    address: tuple[str, ...]  # without the recipient's name
    number: str  # pattern, {n} is a random number
    labels: OrderLabels = OrderLabels()


@dataclass
class Order:
    spec: OrderSpec
    number: str
    placed: datetime
    lines: list[Line]

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    def expected(self) -> dict:
        spec = self.spec
        return {
            "orderNumber": self.number,
            "customerName": spec.customer,
            "orderDate": self.placed.date().isoformat(),
            "shippingMethod": spec.shipping,
            "deliveryAddress": ", ".join(spec.address),
            "items": [
                {"sku": line.sku, "description": line.description, "quantity": num(line.quantity)}
                for line in self.lines
            ],
        }


def make_order(spec: OrderSpec) -> Order:
    rng = random.Random(spec.name)
    day = pick_date(rng, unambiguous=spec.loc.date == "dmy")
    chosen = rng.sample(SHOP_ITEMS[spec.items], rng.randrange(2, 5))
    return Order(
        spec,
        number=spec.number.format(n=rng.randrange(10000, 99999)),
        placed=datetime.combine(day, time(rng.randrange(7, 23), rng.randrange(60)), UTC),
        lines=[Line(text, Decimal(rng.choice((1, 1, 2, 3))), Decimal(price), sku) for sku, text, price in chosen],
    )


def order_parts(order: Order) -> tuple[list[tuple[str, ...]], list[tuple[str, str]]]:
    """Item rows (SKU, item, quantity, price) and sums (subtotal, shipping, total)."""
    spec, labels, cash = order.spec, order.spec.labels, order.spec.loc.cash
    rows = [(line.sku, line.description, spec.loc.qty(line.quantity), cash(line.amount)) for line in order.lines]
    shipping = Decimal(spec.shipping_cost)
    sums = [
        (labels.subtotal, cash(order.subtotal)),
        (labels.shipping_cost, cash(shipping)),
        (labels.total, cash(order.subtotal + shipping)),
    ]
    return rows, sums


def order_text(order: Order) -> str:
    """A plain-text order confirmation."""
    spec, labels = order.spec, order.spec.labels
    rows, sums = order_parts(order)
    return "\n".join(
        [
            labels.greeting.format(first=spec.customer.split()[0]),
            "",
            labels.intro,
            "",
            f"{labels.number} {order.number}",
            f"{labels.date} {spec.loc.day(order.placed.date())}",
            "",
            *text_table(labels.headers, rows, (14, 34, 6, 12), left=2),
            "",
            *(f"{label}: {value}" for label, value in sums),
            "",
            f"{labels.shipping} {spec.shipping}",
            labels.address,
            *(f"  {line}" for line in (spec.customer, *spec.address)),
            "",
            *(line.format(shop=spec.shop) for line in labels.closing),
            "",
        ]
    )


def order_html(order: Order) -> str:
    """The HTML of an order confirmation: summary, item table, sums, shipping method and address."""
    spec, labels, esc = order.spec, order.spec.labels, html.escape
    rows, sums = order_parts(order)
    summary = [(labels.number, order.number), (labels.date, spec.loc.day(order.placed.date()))]
    return f"""<h1>{esc(spec.shop)}</h1>
<p>{esc(labels.greeting.format(first=spec.customer.split()[0]))}</p>
<p>{esc(labels.intro)}</p>
{html_table((), summary, left=2, css="summary")}
{html_table(labels.headers, rows, left=2)}
{html_table((), sums, css="totals")}
<h3>{esc(labels.shipping.rstrip(":"))}</h3>
<p>{esc(spec.shipping)}</p>
<h3>{esc(labels.address.rstrip(":"))}</h3>
<p>{"<br>".join(map(esc, (spec.customer, *spec.address)))}</p>
<p class="muted">{"<br>".join(esc(line.format(shop=spec.shop)) for line in labels.closing)}</p>"""


def order_document(order: Order) -> tuple[bytes, str]:
    """The order as a shop's confirmation page or as an email (plain, HTML-only, or forwarded by the customer)."""
    spec = order.spec
    subject = spec.labels.subject.format(number=order.number)
    if spec.output == "page":
        links = '<a href="/">Shop</a> · <a href="/account/orders">My orders</a> · <a href="/cart">Cart</a>'
        nav = f'<nav class="muted">{links}</nav>'
        return html_page(f"Order confirmation – {spec.shop}", f"{nav}\n{order_html(order)}"), "html"
    domain = spec.shop_email.split("@")[1]
    message = {
        "sender": f"{spec.shop} <{spec.shop_email}>",
        "to": f"{spec.customer} <{spec.customer_email}>",
        "subject": subject,
        "when": order.placed,
        "message_id": f"<order-{order.number.lower()}@{domain}>",
    }
    if spec.output == "plain":
        message["plain"] = order_text(order)
    elif spec.output == "html":
        message["html_body"] = html_page(subject, order_html(order)).decode()
    else:  # the customer forwards the confirmation to a colleague, quoting it in both parts
        first = spec.customer.split()[0]
        note = (
            "Hi Marcus,\n\nFYI - the supplies order for the front desk. "
            f"Can you file it with this month's purchases?\n\nThanks,\n{first}\n"
        )
        quoted = (
            f"---------- Forwarded message ---------\nFrom: {message['sender']}\n"
            f"Date: {email.utils.format_datetime(order.placed)}\nSubject: {subject}\nTo: {message['to']}\n"
        )
        message.update(
            sender=message["to"],
            to=f"Marcus Lee <marcus.lee@{spec.customer_email.split('@')[1]}>",
            subject=f"Fwd: {subject}",
            when=order.placed + timedelta(hours=2, minutes=17),
            message_id=f"<fwd-{order.number.lower()}@{spec.customer_email.split('@')[1]}>",
            plain=f"{note}\n{quoted}\n{order_text(order)}",
            html_body=f"<p>{html.escape(note).replace(chr(10), '<br>')}</p>\n"
            f"<blockquote><pre>{html.escape(quoted)}</pre>\n{order_html(order)}</blockquote>",
        )
    return email_bytes(**message), "email"


ORDERS = [
    OrderSpec(
        "order-trailhead-confirmation.html",
        "page",
        replace(US, date="us_long"),
        "Trailhead Outfitters",
        "orders@trailhead.example",
        "outdoor",
        "Jordan Avery",
        "jordan.avery@mail.example",
        "FedEx 2Day",
        "18.50",
        ("1184 Alder Street", "Eugene, OR 97401", "United States"),
        "TH-{n}",
        OrderLabels(intro="Thank you! Your order has been placed.", address="Shipping address:"),
    ),
    OrderSpec(
        "order-lumen-home-plain.eml",
        "plain",
        US,
        "Lumen Home Goods",
        "orders@lumenhome.example",
        "home",
        "Priya Raman",
        "priya.raman@mail.example",
        "UPS Ground",
        "9.95",
        ("55 Water Street, Apt 4B", "Brooklyn, NY 11201"),
        "{n}",
    ),
    OrderSpec(
        "bestellung-fernweh-outdoor.eml",
        "plain",
        DE,
        "Fernweh Outdoor GmbH",
        "shop@fernweh-outdoor.example",
        "outdoor_de",
        "Lukas Hartmann",
        "l.hartmann@post.example",
        "DHL Paket",
        "4.95",
        ("Lindenallee 17", "04109 Leipzig"),
        "FW-2024-{n}",
        DE_ORDER,
    ),
    OrderSpec(
        "order-paper-pine-html-only.eml",
        "html",
        UK,
        "Paper & Pine Stationers",
        "hello@paperandpine.example",
        "stationery",
        "Eleanor Hughes",
        "eleanor.hughes@mail.example",
        "Royal Mail Tracked 48",
        "3.95",
        ("Flat 3, 21 Grove Road", "Bath BA2 4HJ", "United Kingdom"),
        "PP{n}",
        OrderLabels(subject="Thanks for your order, {number}!", number="Order reference:", address="Delivering to:"),
    ),
    OrderSpec(
        "order-northwind-forwarded.eml",
        "forwarded",
        US,
        "Northwind Office Supply Co.",
        "webshop@northwind-office.example",
        "office",
        "Dana Whitfield",
        "dana.whitfield@riversidedental.example",
        "USPS Priority Mail",
        "12.40",
        ("Riverside Dental Group", "88 River Road, Suite 200", "Dayton, OH 45402"),
        "NW-{n}",
        OrderLabels(subject="Order #{number} received"),
    ),
]


def orders(corpus: Corpus) -> None:
    """Order confirmations: a shop's web page and plain-text, HTML-only and forwarded emails."""
    for spec in ORDERS:
        order = make_order(spec)
        data, input_type = order_document(order)
        tags = ["order", spec.loc.lang] + (["forwarded"] if spec.output == "forwarded" else [])
        corpus.add(spec.name, input_type, "order_email", order.expected(), tags, data)


# --- Main -------------------------------------------------------------------------------------------------------


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(parents=True)
    corpus = Corpus(CORPUS)
    for family in (invoices, receipts, bills_of_lading, orders):
        family(corpus)
    entries = sorted(corpus.entries, key=lambda entry: entry["file"])
    MANIFEST.write_text(json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    size = sum((HERE / entry["file"]).stat().st_size for entry in entries)
    print(f"wrote {len(entries)} documents ({size / 1e6:.2f} MB) and {MANIFEST.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
