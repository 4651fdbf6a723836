"""Ceilings on what one document may cost to read, so a hostile file cannot exhaust the machine.

Each limit, when hit, fails the function call with a message naming it; none silently truncates.
"""

MAX_PDF_PAGES = 500
MAX_OCR_PAGES = 100  # pages of a PDF without a text layer, each costs seconds of OCR
MAX_IMAGE_PIXELS = 60_000_000  # checked from the header, before a pixel is decoded
OCR_MAX_SIDE = 2400  # larger images are scaled down before OCR: more pixels cost time, not accuracy
PDF_OCR_DPI = 200
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # docx / xlsx are zip archives: their content, decompressed
MAX_COMPRESSION_RATIO = 200  # a zip entry this many times smaller than its content is a bomb
MAX_SHEET_CELLS = 2_000_000
MAX_ATTACHMENTS = 50
MAX_ATTACHMENT_DEPTH = 3  # emails attached to emails attached to emails
