"""Whether a text is a label: one of the labels the vocabulary knows for any concept, written alone.

Separate because the label reader (where an address block ends, whether the line below states a label of its
own), the name checks and the value and table parsers all ask it, and it needs nothing but the vocabulary.
"""

from __future__ import annotations

from quarry.providers.llm.builtin.vocabulary import CONCEPTS, words

ALL_LABELS = frozenset(" ".join(words(label)) for concept in CONCEPTS for label in concept.labels)


def is_label(text: str) -> bool:
    """``Port of Discharge``, ``Carrier:``, ``/Exporter`` (the end of ``Shipper/Exporter``)."""
    stripped = text.strip()
    return stripped.startswith("/") or " ".join(words(stripped)) in ALL_LABELS
