"""One small invoice written in every input format, for tests that read documents end to end.

The same facts appear in every rendition, so a test can expect the same answer whatever the
format; each maker uses the format's own library (fpdf2, Pillow, python-docx, openpyxl, xlwt).
"""

from __future__ import annotations

import csv
import io
import json
from email.message import EmailMessage
from typing import Any

SELLER = "Northwind Traders GmbH"
NUMBER = "INV-2024-0042"
DATE_PRINTED, DATE_ISO = "5 March 2024", "2024-03-05"
TOTAL_PRINTED, TOTAL = "1,234.56 EUR", 1234.56
ITEMS = [("Widget A", 2, 100.00, 200.00), ("Gadget B", 1, 1034.56, 1034.56)]
HEADER = ["Description", "Qty", "Unit Price", "Amount"]

SCHEMA = {
    "type": "object",
    "properties": {
        "invoiceNumber": {"type": "string"},
        "invoiceDate": {"type": "string", "format": "date"},
        "issuer": {"type": "string", "description": "the seller's company name"},
        "totalAmount": {"type": "number"},
        "currency": {"type": "string"},
        "lineItems": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": "number"},
                    "unitPrice": {"type": "number"},
                    "amount": {"type": "number"},
                },
            },
        },
    },
    "required": ["invoiceNumber", "totalAmount"],
}

FIELDS = [("Invoice Number", NUMBER), ("Invoice Date", DATE_PRINTED), ("Total", TOTAL_PRINTED)]


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _item_rows() -> list[list[str]]:
    return [[d, str(q), _money(p), _money(a)] for d, q, p, a in ITEMS]


def text_lines() -> list[str]:
    lines = [SELLER, "INVOICE", *(f"{label}: {value}" for label, value in FIELDS[:2]), ""]
    lines.append("    ".join(HEADER))
    lines += ["    ".join(row) for row in _item_rows()]
    lines += ["", f"{FIELDS[2][0]}: {FIELDS[2][1]}"]
    return lines


def text() -> bytes:
    return "\n".join(text_lines()).encode()


def pdf() -> bytes:
    from fpdf import FPDF

    document = FPDF()
    document.add_page()
    document.set_font("Helvetica", size=12)
    for line in text_lines():
        document.cell(0, 8, line.replace("    ", "        "), new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def _image():
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    image = Image.new("RGB", (1300, 60 * len(text_lines()) + 80), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(text_lines()):
        draw.text((50, 40 + 60 * index), line.replace("    ", "      "), fill="black", font=font)
    return image


def image(kind: str) -> bytes:
    """The invoice as a picture: ``kind`` is a Pillow format (PNG, JPEG, WEBP, HEIF)."""
    if kind == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    _image().save(buffer, format=kind, **({"quality": 90} if kind != "PNG" else {}))
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A PDF whose only page is a picture of the invoice: no text layer at all."""
    from fpdf import FPDF

    buffer = io.BytesIO()
    _image().save(buffer, format="PNG")
    document = FPDF()
    document.add_page()
    document.image(buffer, x=0, y=0, w=210)
    return bytes(document.output())


def docx() -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    document.add_paragraph(SELLER)
    for label, value in FIELDS[:2]:
        document.add_paragraph(f"{label}: {value}")
    table = document.add_table(rows=1, cols=len(HEADER))
    for cell, title in zip(table.rows[0].cells, HEADER):
        cell.text = title
    for row in _item_rows():
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value
    document.add_paragraph(f"{FIELDS[2][0]}: {FIELDS[2][1]}")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def pptx() -> bytes:
    """One slide: the header lines in a text box, the items in a table, the total in another box."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])  # blank
    header = slide.shapes.add_textbox(Inches(0.5), Inches(0.3), Inches(8), Inches(1.5)).text_frame
    header.text = SELLER
    for line in ["INVOICE", *(f"{label}: {value}" for label, value in FIELDS[:2])]:
        header.add_paragraph().text = line
    rows = [HEADER, *_item_rows()]
    table = slide.shapes.add_table(len(rows), len(HEADER), Inches(0.5), Inches(2), Inches(8), Inches(1.5)).table
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    total = slide.shapes.add_textbox(Inches(0.5), Inches(4), Inches(8), Inches(0.5)).text_frame
    total.text = f"{FIELDS[2][0]}: {FIELDS[2][1]}"
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def _sheet_rows() -> list[list[object]]:
    rows: list[list[object]] = [[SELLER], *([label, value] for label, value in FIELDS), []]
    rows.append(HEADER)
    rows += [[d, q, p, a] for d, q, p, a in ITEMS]
    return rows


def xlsx() -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Invoice"
    for row in _sheet_rows():
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xls() -> bytes:
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Invoice")
    for r, row in enumerate(_sheet_rows()):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_file() -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in _sheet_rows():
        writer.writerow(row)
    return buffer.getvalue().encode()


def json_file() -> bytes:
    return json.dumps(
        {
            "seller": {"name": SELLER},
            "invoice_number": NUMBER,
            "invoice_date": DATE_ISO,
            "total": TOTAL,
            "currency": "EUR",
            "line_items": [{"description": d, "qty": q, "unit_price": p, "amount": a} for d, q, p, a in ITEMS],
        }
    ).encode()


def xml() -> bytes:
    lines = "".join(
        f"<Line><Description>{d}</Description><Quantity>{q}</Quantity><UnitPrice>{p}</UnitPrice>"
        f"<Amount>{a}</Amount></Line>"
        for d, q, p, a in ITEMS
    )
    return (
        f'<?xml version="1.0"?><Invoice xmlns="urn:example:invoice"><InvoiceNumber>{NUMBER}</InvoiceNumber>'
        f"<InvoiceDate>{DATE_ISO}</InvoiceDate><Seller><Name>{SELLER}</Name></Seller>"
        f'<Lines>{lines}</Lines><Total currency="EUR">{TOTAL}</Total></Invoice>'
    ).encode()


def html() -> bytes:
    head = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in FIELDS)
    items = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row) + "</tr>" for row in _item_rows())
    header = "".join(f"<th>{h}</th>" for h in HEADER)
    return (
        f"<html><head><title>Invoice</title><style>td {{color: red}}</style></head><body>"
        f"<h1>{SELLER}</h1><table>{head}</table><table><tr>{header}</tr>{items}</table></body></html>"
    ).encode()


def email(*, attach_pdf: bool = False) -> bytes:
    """An email with the invoice in its body, or (``attach_pdf``) only in an attached PDF."""
    message = EmailMessage()
    message["From"] = f"{SELLER} <billing@northwind.example>"
    message["To"] = "accounts@customer.example"
    message["Subject"] = f"Invoice {NUMBER}" if not attach_pdf else "Your documents"
    message["Date"] = "Tue, 05 Mar 2024 10:00:00 +0000"
    if attach_pdf:
        message.set_content("Hello,\nplease find our invoice attached.\n")
        message.add_attachment(pdf(), maintype="application", subtype="pdf", filename="invoice.pdf")
    else:
        message.set_content("\n".join(text_lines()))
    return bytes(message)


def text_in_region(pdf: bytes, region: dict[str, Any]) -> str:
    """The PDF's own text inside a region given in bem's normalised, top-left coordinates (read by
    pypdfium2's text extraction, independently of Quarry's reader)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    page = document[region["page"] - 1]
    width, height = page.get_size()
    left, right = region["left"] * width, (region["left"] + region["width"]) * width
    top, bottom = height - region["top"] * height, height - (region["top"] + region["height"]) * height
    margin = 1.0  # points: the rectangle is the words' own boxes, rounded
    return page.get_textpage().get_text_bounded(left - margin, bottom - margin, right + margin, top + margin)


RENDITIONS = {
    "text": text,
    "pdf": pdf,
    "docx": docx,
    "pptx": pptx,
    "xlsx": xlsx,
    "xls": xls,
    "csv": csv_file,
    "json": json_file,
    "xml": xml,
    "html": html,
    "email": email,
}
IMAGE_RENDITIONS = {
    "png": lambda: image("PNG"),
    "jpeg": lambda: image("JPEG"),
    "webp": lambda: image("WEBP"),
    "heic": lambda: image("HEIF"),
}


def video(container: str, *, sound: bool = True, seconds: int = 3) -> bytes:
    """The invoice as a few seconds of video (``container``: ``mp4`` or ``mov``), made by ffmpeg
    from the picture, with a tone for a sound track (``sound``); ffmpeg must be installed."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        frame, out = Path(folder) / "frame.png", Path(folder) / f"invoice.{container}"
        frame.write_bytes(image("PNG"))
        tone = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if sound else []
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-loop", "1", "-i", str(frame), *tone,
             "-t", str(seconds), "-r", "5", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-pix_fmt", "yuv420p",
             "-c:v", "mpeg4", *(["-c:a", "aac"] if sound else []), str(out)],
            check=True, timeout=60,
        )  # fmt: skip
        return out.read_bytes()
