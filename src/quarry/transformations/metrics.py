"""How well an extraction matches its correction: leaf-by-leaf counts, the usual ratios, and a
list of differences addressed by JSON Pointer (RFC 6901).

**Leaves.** A leaf is a string, number or boolean, addressed by its JSON Pointer (``/lineItems/0/sku``).
``null``, ``{}`` and ``[]`` hold no value: they count as absent (an extractor that writes
``"dueDate": null`` claims nothing, and a correction that omits ``dueDate`` says nothing is there).

**Equal values.** Numbers (not booleans) are equal when ``|a - b| <= 1e-9``. Strings are equal
after Unicode NFC normalisation, trimming, and collapsing each run of whitespace into one space
(line breaks and double spaces are layout, not content); **case matters** (``ACME`` is not
``Acme``: identifiers and codes are case-sensitive). Booleans equal booleans. Values of different
types are never equal (``"10"`` is not ``10``, ``true`` is not ``1``).

**Arrays.** With ``order_matching=True`` array items are compared by index. With ``False`` (the
default) the extracted items of each array are first *aligned* with the corrected items, at every
level of nesting, wherever both documents have an array at the same place:

1. identical items (the same leaves with the same values: numbers exactly, strings after the
   normalisation below) are paired first, in order;
2. then, repeatedly, the pair (corrected item, extracted item) that agrees on the most leaves is
   paired (its *agreement* is the number of true positives of comparing the two items with this
   same algorithm, so nested arrays are aligned too), as long as it agrees on at least one leaf;
   ties go to the pair whose indexes are closest, then to the lower corrected index, then to the
   lower extracted index;
3. corrected and extracted items still unpaired, which agree on nothing with each other, are
   paired in their order (the first leftover with the first leftover …): a row whose every value
   is wrong is reported as mismatches, as ``order_matching=True`` would;
4. extracted items left over (the extraction has more items than the correction) are *extra*.

Pairing is one-to-one. The aligned array puts each corrected item's partner at the corrected
item's index, and the extra extracted items after the last corrected one, in their own order: so
every pointer is in the correction's coordinates, and an extra item ``k`` of an array of ``n``
corrected items is at index ``n + k``. (Greedy pairing on agreement is not guaranteed to find the
assignment with the most agreeing leaves overall, but it is deterministic, cheap — at most n·m
item comparisons, none beyond ``MAX_SCORED_PAIRS`` pairs per array, where step 2 is skipped — and
finds it in the usual cases: rows that are complete, or wrong in a few fields.)

**Counts** over the union ``P`` of the leaf pointers of the two aligned documents:

- true positive (TP): the leaf is in both and the values are equal;
- false positive (FP): the leaf is extracted but absent from the correction, or different there;
- false negative (FN): the leaf is in the correction but absent from the extraction, or different
  there.

A leaf in both with different values is one FP *and* one FN. Then ``precision = TP / (TP + FP)``,
``recall = TP / (TP + FN)``, ``f1Score`` their harmonic mean ``2PR / (P + R)``, and
``accuracy = TP / |P|`` (the share of all the pointers either document has that are right).

**Zero divisions.** When both documents have no leaf at all (``P`` is empty) every metric is 1
(nothing to find, nothing found wrongly). Otherwise a ratio whose denominator is 0 is 0 — e.g. an
empty extraction against a non-empty correction has precision 0 and recall 0 — and ``f1Score`` is
0 when precision + recall is 0.

**Differences** list every pointer of ``P`` that is not a true positive, with a category:
``missing`` (in the correction only: a false negative), ``extra`` (in the extraction only: a false
positive), ``mismatch`` (in both, values differ: both). ``extractedVal`` / ``correctedVal`` hold the
two values, ``null`` for the side where the leaf is absent. Order: the correction's leaves in
its document order, then the extra leaves sorted by pointer (token by token, indexes as numbers
before keys): stored extractions do not keep their key order on PostgreSQL (JSONB), and the
answer must not depend on the database.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from quarry.events.models import without_metadata
from quarry.pointers import escape

NUMBER_TOLERANCE = 1e-9
MAX_SCORED_PAIRS = 250_000
"""Step 2 scores every (corrected, extracted) pair of one array left after step 1; beyond this
many pairs (e.g. two 500-item tables without identical rows) it is skipped and step 3 pairs the
items in order, so that one correction cannot take minutes of CPU."""


class _Hole:
    """An aligned array position whose corrected item has no extracted partner."""

    def __repr__(self) -> str:
        return "HOLE"


HOLE = _Hole()


@dataclass
class Comparison:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    pointers: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        if self.pointers == 0:
            return {"accuracy": 1.0, "precision": 1.0, "recall": 1.0, "f1Score": 1.0}
        tp = self.true_positives
        precision = _ratio(tp, tp + self.false_positives)
        recall = _ratio(tp, tp + self.false_negatives)
        f1 = _ratio(2 * precision * recall, precision + recall)
        return {"accuracy": _ratio(tp, self.pointers), "precision": precision, "recall": recall, "f1Score": f1}

    def as_wire(self) -> dict[str, Any]:
        """The ``metrics`` field of a corrected transformation: ``{"metrics": {…}, "differences": […]}``."""
        return {"metrics": self.metrics(), "differences": self.differences}


def compare(extracted: Any, corrected: Any, order_matching: bool = False) -> Comparison:
    """Compare an extraction with its correction (see the module docstring for every rule); the
    call's ``_metadata`` in either is not part of them."""
    extracted, corrected = without_metadata(extracted), without_metadata(corrected)
    aligned = extracted if order_matching else align(extracted, corrected)
    extracted_leaves = dict(leaves(aligned))
    corrected_leaves = dict(leaves(corrected))
    result = Comparison()
    for pointer, corrected_value in corrected_leaves.items():
        result.pointers += 1
        if pointer not in extracted_leaves:
            result.false_negatives += 1
            result.differences.append(_difference("missing", pointer, None, corrected_value))
        elif equal(extracted_leaves[pointer], corrected_value):
            result.true_positives += 1
        else:
            result.false_positives += 1
            result.false_negatives += 1
            result.differences.append(_difference("mismatch", pointer, extracted_leaves[pointer], corrected_value))
    extras = sorted((p for p in extracted_leaves if p not in corrected_leaves), key=_pointer_order)
    for pointer in extras:
        extracted_value = extracted_leaves[pointer]
        result.pointers += 1
        result.false_positives += 1
        result.differences.append(_difference("extra", pointer, extracted_value, None))
    return result


def agreement(extracted: Any, corrected: Any) -> int:
    """How many leaves two values agree on, arrays aligned (the pairing score of step 2)."""
    corrected_leaves = dict(leaves(corrected))
    return sum(
        1
        for pointer, value in leaves(align(extracted, corrected))
        if pointer in corrected_leaves and equal(value, corrected_leaves[pointer])
    )


def align(extracted: Any, corrected: Any) -> Any:
    """``extracted`` with the items of every array it shares with ``corrected`` put in the
    corrected items' places (``HOLE`` where a corrected item has no partner), extras last."""
    if isinstance(extracted, dict) and isinstance(corrected, dict):
        return {key: align(value, corrected[key]) if key in corrected else value for key, value in extracted.items()}
    if not (isinstance(extracted, list) and isinstance(corrected, list)):
        return extracted
    partner = _pair(extracted, corrected)
    used = set(partner.values())
    aligned: list[Any] = [
        align(extracted[partner[i]], item) if i in partner else HOLE for i, item in enumerate(corrected)
    ]
    aligned += [item for j, item in enumerate(extracted) if j not in used]
    return aligned


def origins(extracted: Any, corrected: Any, aligned_at: str = "", extracted_at: str = "") -> dict[str, str]:
    """Where each leaf of ``align(extracted, corrected)`` was in ``extracted``: aligned pointer ->
    original pointer (what an extraction's confidences are keyed by)."""
    if isinstance(extracted, dict):
        found: dict[str, str] = {}
        for key, value in extracted.items():
            token = f"/{escape(str(key))}"
            partner = corrected.get(key) if isinstance(corrected, dict) else None
            found |= origins(value, partner, aligned_at + token, extracted_at + token)
        return found
    if isinstance(extracted, list):
        if not isinstance(corrected, list):
            return {f"{aligned_at}{p}": f"{extracted_at}{p}" for p, _ in leaves(extracted)}
        partner_of = _pair(extracted, corrected)
        places = {j: i for i, j in partner_of.items()}
        extras = iter(range(len(corrected), len(corrected) + len(extracted)))
        found = {}
        for j, item in enumerate(extracted):
            i = places[j] if j in places else next(extras)
            counterpart = corrected[i] if i < len(corrected) else None
            found |= origins(item, counterpart, f"{aligned_at}/{i}", f"{extracted_at}/{j}")
        return found
    return {} if extracted is None else {aligned_at: extracted_at}


def _pair(extracted: list[Any], corrected: list[Any]) -> dict[int, int]:
    """corrected index -> extracted index, one-to-one (steps 1 to 3)."""
    partner: dict[int, int] = {}
    # 1. identical items, in order (by a canonical key: one pass over each side)
    waiting: dict[Any, deque[int]] = defaultdict(deque)
    for j, item in enumerate(extracted):
        waiting[_identity(item)].append(j)
    for i, item in enumerate(corrected):
        queue = waiting.get(_identity(item))
        if queue:
            partner[i] = queue.popleft()
    paired = set(partner.values())
    free_corrected = [i for i in range(len(corrected)) if i not in partner]
    free_extracted = [j for j in range(len(extracted)) if j not in paired]
    # 2. greedily, the pair agreeing on the most leaves
    taken_extracted: set[int] = set()
    if len(free_corrected) * len(free_extracted) <= MAX_SCORED_PAIRS:
        flat_corrected = {i: _flat_leaves(corrected[i]) for i in free_corrected}
        flat_extracted = {j: _flat_leaves(extracted[j]) for j in free_extracted}
        candidates = []
        for i in free_corrected:
            for j in free_extracted:
                score = _agreement(extracted[j], corrected[i], flat_extracted[j], flat_corrected[i])
                if score > 0:
                    candidates.append((-score, abs(i - j), i, j))
        candidates.sort()
        for _, _, i, j in candidates:
            if i not in partner and j not in taken_extracted:
                partner[i] = j
                taken_extracted.add(j)
    # 3. what is left, in order
    left_corrected = [i for i in free_corrected if i not in partner]
    left_extracted = [j for j in free_extracted if j not in taken_extracted]
    for i, j in zip(left_corrected, left_extracted, strict=False):
        partner[i] = j
    return partner


def _identity(value: Any) -> Any:
    """A hashable key equal for identical values: the leaves, strings normalised, types kept apart."""
    return tuple(sorted((pointer, _canonical(leaf)) for pointer, leaf in leaves(value)))


def _canonical(leaf: Any) -> tuple[str, Any]:
    if isinstance(leaf, bool):
        return ("b", leaf)
    if isinstance(leaf, int | float):
        return ("n", leaf)  # 10 and 10.0 are equal and hash alike
    return ("s", normalise(leaf) if isinstance(leaf, str) else repr(leaf))


def _flat_leaves(value: Any) -> dict[str, Any] | None:
    """The leaves of a value without arrays (alignment cannot change it), else ``None``."""
    if _has_array(value):
        return None
    return dict(leaves(value))


def _has_array(value: Any) -> bool:
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and any(_has_array(item) for item in value.values())


def _agreement(extracted: Any, corrected: Any, flat_e: dict[str, Any] | None, flat_c: dict[str, Any] | None) -> int:
    if flat_e is None or flat_c is None:
        return agreement(extracted, corrected)
    if len(flat_e) > len(flat_c):
        flat_e, flat_c = flat_c, flat_e
    return sum(1 for pointer, value in flat_e.items() if pointer in flat_c and equal(value, flat_c[pointer]))


def leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """``(JSON Pointer, value)`` of every leaf, in document order; null, ``{}``, ``[]`` and holes are absent."""
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaves(item, f"{pointer}/{escape(str(key))}")]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in leaves(item, f"{pointer}/{index}")]
    if value is None or value is HOLE:
        return []
    return [(pointer, value)]


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if math.isnan(a) or math.isnan(b):
            return False
        return abs(a - b) <= NUMBER_TOLERANCE
    if isinstance(a, str) and isinstance(b, str):
        return normalise(a) == normalise(b)
    return False


def normalise(text: str) -> str:
    """NFC, trimmed, whitespace runs collapsed to one space; case kept."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _pointer_order(pointer: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a pointer: token by token, array indexes as numbers before keys as text."""
    tokens = pointer.split("/")[1:]
    return tuple((0, int(token)) if token.isascii() and token.isdigit() else (1, token) for token in tokens)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _difference(category: str, pointer: str, extracted: Any, corrected: Any) -> dict[str, Any]:
    return {"category": category, "jsonPointer": pointer, "extractedVal": extracted, "correctedVal": corrected}
