"""Ceilings on what one document may cost to read, so a hostile file cannot exhaust the machine.

Each limit, when hit, fails the function call with a message naming it; none silently truncates.
"""

MAX_PDF_PAGES = 500
MAX_OCR_PAGES = 100  # pages of a PDF without a text layer, each costs seconds of OCR
MAX_IMAGE_PIXELS = 60_000_000  # checked from the header, before a pixel is decoded
OCR_MAX_SIDE = 2400  # larger images are scaled down before OCR: more pixels cost time, not accuracy
PDF_OCR_DPI = 200
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024  # docx / xlsx are zip archives: their content, decompressed
# docx is parsed into a whole DOM (lxml, python-docx proxies): it costs ~10-20 times its XML in memory.
# xlsx is streamed row by row, so it keeps MAX_UNZIPPED_BYTES.
MAX_DOM_UNZIPPED_BYTES = 64 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200  # a zip entry this many times smaller than its content is a bomb
MAX_SHEET_CELLS = 2_000_000
MAX_ATTACHMENTS = 50
MAX_ATTACHMENT_DEPTH = 3  # emails attached to emails attached to emails
# JSON and XML (documents, and JSON handed from function to function)
MAX_NESTING_DEPTH = 100  # objects in objects (elements in elements); real documents nest a dozen deep
MAX_FIELDS = 200_000  # values (leaves) of one document, each a "key path: value" line
MAX_LABEL_CHARS = 256  # a key path longer than this keeps its end, which is what labels are matched against
MAX_TABLE_COLUMNS = 200  # different keys among a list's objects (or a repeated element's leaves)
MAX_TABLE_TEXT_CHARS = 20_000_000  # nested values written into table cells, all tables together
# An e-invoice's XML embedded in a PDF (Factur-X, ZUGFeRD): a larger one is ignored, the PDF's text is read.
MAX_EINVOICE_XML_BYTES = 16 * 1024 * 1024
MAX_EINVOICE_LINES = 10_000  # line items taken from one e-invoice
# Videos (mp4, mov), read through ffmpeg: frames sampled and OCR'd, the sound transcribed
MAX_VIDEO_SECONDS = 600  # a longer video is refused, not cut
VIDEO_STEP_SECONDS = 2  # a frame every 2 s of a short video…
MAX_VIDEO_FRAMES = 20  # …and at most this many, spread evenly over a longer one (each costs an OCR)
VIDEO_FRAME_WIDTH = 1920  # wider frames are scaled down before OCR
FFMPEG_TIMEOUT_SECONDS = 90  # each of ffmpeg's runs (probe, frames, sound), within QUARRY_PARSE_TIMEOUT_SECONDS
