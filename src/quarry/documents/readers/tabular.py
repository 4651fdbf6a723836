"""Spreadsheets and CSV: every sheet a table (and a page of text), cells as a user would read them."""

from __future__ import annotations

import csv
import datetime
import io

from quarry.documents.layout import COLUMN_GAP
from quarry.documents.limits import MAX_SHEET_CELLS
from quarry.documents.model import Document, DocumentError, Page, Table, describe
from quarry.documents.readers.archive import check_zip
from quarry.documents.readers.plain import decode


def table_lines(rows: list[list[str]]) -> list[str]:
    """Rows as text lines, cells a column gap apart, empty cells left out."""
    return [COLUMN_GAP.join(cell for cell in row if cell) for row in rows if any(row)]


SPREADSHEETS = ("csv", "xlsx", "xls")
"""Input types read as one table per sheet, each sheet a page of ``table_lines`` from cell A1."""


def cell_at(rows: list[list[str]], offset: int) -> tuple[int, int] | None:
    """The cell (row and column, from 0) whose text holds character ``offset`` of the sheet's page
    text (``table_lines`` joined by newlines), or None between cells."""
    at = 0
    for r, row in enumerate(rows):
        if not any(row):
            continue
        gap = 0
        for c, cell in enumerate(row):
            if not cell:
                continue
            at += gap
            if at <= offset < at + len(cell):
                return r, c
            at, gap = at + len(cell), len(COLUMN_GAP)
        at += 1  # the newline
    return None


def cell_name(row: int, column: int) -> str:
    """``(2, 1)`` -> ``B3``: a cell as spreadsheets name it."""
    letters = ""
    column += 1
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row + 1}"


def cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value).strip()


def _trimmed(rows: list[list[str]]) -> list[list[str]]:
    """Without trailing empty rows and columns (spreadsheets often report a larger used range)."""
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((max((i + 1 for i, cell in enumerate(row) if cell), default=0) for row in rows), default=0)
    # One long row among many short ones would make a rectangle of empty cells: counted before it is made.
    _guard_cells(width * len(rows))
    return [row[:width] + [""] * (width - len(row)) for row in rows]


def _document(input_type: str, sheets: list[tuple[str, list[list[str]]]]) -> Document:
    tables = [Table(rows, name) for name, rows in sheets if rows]
    pages = [Page(number, "\n".join(table_lines(table.rows))) for number, table in enumerate(tables, start=1)]
    return Document(input_type, pages=pages, tables=tables)


def _guard_cells(count: int) -> None:
    if count > MAX_SHEET_CELLS:
        raise DocumentError(f"the spreadsheet has more than {MAX_SHEET_CELLS:,} cells")


def read_csv(data: bytes) -> Document:
    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows, cells = [], 0
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            cells += len(row)
            _guard_cells(cells)
            rows.append([cell.strip() for cell in row])
    except csv.Error as exc:
        raise DocumentError(f"the CSV cannot be parsed: {exc}") from None
    return _document("csv", [("csv", _trimmed(rows))])


def read_xlsx(data: bytes) -> Document:
    import openpyxl

    check_zip(data, "xlsx")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise DocumentError(f"the xlsx file cannot be opened: {describe(exc)}") from None
    sheets, cells = [], 0
    try:
        for sheet in workbook.worksheets:
            rows = []
            try:
                for row in sheet.iter_rows(values_only=True):  # cells are parsed here, lazily
                    cells += len(row)
                    _guard_cells(cells)
                    rows.append([cell_text(value) for value in row])
            except DocumentError:
                raise
            except Exception as exc:  # a bad cell reference, number, date or style index in the sheet's XML
                raise DocumentError(f"the xlsx file's sheet {sheet.title!r} cannot be read: {describe(exc)}") from None
            sheets.append((sheet.title, _trimmed(rows)))
    finally:
        workbook.close()
    return _document("xlsx", sheets)


def read_xls(data: bytes) -> Document:
    import xlrd

    try:
        workbook = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, CompDocError, struct errors… for a broken file
        raise DocumentError(f"the xls file cannot be opened: {describe(exc)}") from None
    sheets, cells = [], 0
    try:
        for index in range(workbook.nsheets):
            try:  # with on_demand, a sheet's records are parsed here
                sheet = workbook.sheet_by_index(index)
            except Exception as exc:  # XLRDError, AssertionError, struct.error, IndexError… for broken records
                raise DocumentError(f"the xls file's sheet {index + 1} cannot be read: {describe(exc)}") from None
            cells += sheet.nrows * sheet.ncols
            _guard_cells(cells)
            rows = [
                [_xls_cell(sheet.cell(r, c), workbook.datemode) for c in range(sheet.ncols)] for r in range(sheet.nrows)
            ]
            sheets.append((sheet.name, _trimmed(rows)))
    finally:
        workbook.release_resources()
    return _document("xls", sheets)


def _xls_cell(cell, datemode: int) -> str:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return cell_text(xlrd.xldate.xldate_as_datetime(cell.value, datemode))
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return str(cell.value)
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return cell_text(bool(cell.value))
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return ""
    return cell_text(cell.value)
