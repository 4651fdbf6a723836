"""Text and word boxes recognised from pixels, with RapidOCR (its models ship inside the wheel).

One engine per process, made on first use (loading takes a second or two) and shared behind a
lock: the recogniser is not documented as thread-safe, and OCR is CPU-bound anyway.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from quarry.documents.limits import OCR_MAX_SIDE
from quarry.documents.model import Word

_engine: Any = None
_lock = threading.Lock()


def _get_engine() -> Any:
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR

        _engine = RapidOCR()
        logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return _engine


def recognise(image: Any) -> tuple[list[Word], float, float]:
    """Words (in the image's pixel coordinates) recognised in a PIL image, and its width and height."""
    import numpy

    image = image.convert("RGB")
    width, height = image.size
    scale = min(1.0, OCR_MAX_SIDE / max(width, height, 1))
    if scale < 1.0:  # a side never shrinks to nothing: a 1x100000 strip becomes 1x2400, not 0x2400
        image = image.resize((max(1, round(width * scale)), max(1, round(height * scale))))
    image = _within_aspect(image)
    with _lock:
        result = _get_engine()(numpy.asarray(image))
    words: list[Word] = []
    for box, text, score in zip(
        result.boxes if result.boxes is not None else [], result.txts or (), result.scores or ()
    ):
        xs = [float(point[0]) / scale for point in box]  # numpy's float32 would reach the JSON of events
        ys = [float(point[1]) / scale for point in box]
        words.extend(_split_span(text, min(xs), min(ys), max(xs), max(ys), float(score)))
    return words, float(width), float(height)


MAX_ASPECT = 8  # the detector scales an image's short side up to 736 pixels: a thin strip would become huge


def _within_aspect(image: Any) -> Any:
    """The image, with white added right or below when one side is more than ``MAX_ASPECT`` times the
    other (the words keep their coordinates)."""
    from PIL import Image

    width, height = image.size
    if max(width, height) <= MAX_ASPECT * min(width, height):
        return image
    canvas = Image.new("RGB", (max(width, -(-height // MAX_ASPECT)), max(height, -(-width // MAX_ASPECT))), "white")
    canvas.paste(image, (0, 0))
    return canvas


def _split_span(text: str, left: float, top: float, right: float, bottom: float, score: float) -> list[Word]:
    """The recogniser boxes runs of text; each word gets the share of the run's width its characters take."""
    per_char = (right - left) / max(len(text), 1)
    words, position = [], 0
    for token in text.split(" "):
        if token:
            start = left + position * per_char
            words.append(Word(token, start, top, start + len(token) * per_char, bottom, score))
        position += len(token) + 1
    return words
