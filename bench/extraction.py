"""Field-level accuracy of the builtin provider on the sample corpus, and parsing speed per input type.

    .venv/bin/python bench/extraction.py [--manifest examples/manifest.json ...] [--only third-party]

Reads every manifest entry (a document, its schema and the right answer), parses the document,
extracts with the builtin provider and compares field by field: numbers to the cent, dates
exactly, strings after folding case, punctuation and legal-form suffixes ("Inc.", "GmbH").
Prints accuracy per field and per corpus (generated vs third-party), the fields that were wrong,
and pages per second of parsing per input type. The figures are tracked in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import json
import pickle
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from quarry.documents.model import Document
from quarry.documents.parse import parse
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.builtin import BuiltinProvider
from quarry.providers.llm.builtin.values import fold

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
REAL = EXAMPLES / "real" / "manifest.json"  # made by bench/real_corpus.py; absent unless built
DEFAULT_MANIFESTS = [EXAMPLES / "manifest.json", EXAMPLES / "third-party" / "manifest.json", REAL]
_LEGAL_FORM = re.compile(r"\b(inc|ltd|llc|gmbh|ag|sa|sas|plc|pvt|private|limited|corp|co|kg)\b")


def normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return round(float(value), 2)
    text = re.sub(r"[^\w\s]", " ", fold(str(value)))
    return " ".join(_LEGAL_FORM.sub(" ", text).split())


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict) and "anyOf" in expected:
        return any(matches(option, actual) for option in expected["anyOf"])
    return actual is not None and normalise(expected) == normalise(actual)


def compare(
    expected: dict[str, Any], actual: dict[str, Any], prefix: str = ""
) -> list[tuple[str, str, bool, Any, Any]]:
    """(field path, JSON Pointer, correct?, expected, actual) for every field of the right answer."""
    results = []
    for key, want in expected.items():
        got = actual.get(key) if isinstance(actual, dict) else None
        path, pointer = f"{prefix}{key}", f"{_pointer(prefix)}/{key}"
        if isinstance(want, list) and want and isinstance(want[0], dict):
            got_items = got if isinstance(got, list) else []
            for index, item in enumerate(want):
                other = got_items[index] if index < len(got_items) and isinstance(got_items[index], dict) else {}
                results += [
                    (p, f"{pointer}/{index}{q[len(pointer) :]}", *rest)
                    for p, q, *rest in compare(item, other, f"{path}[].")
                ]
        elif isinstance(want, list):
            got_list = got if isinstance(got, list) else []
            results += [(f"{path}[]", pointer, any(matches(w, g) for g in got_list), w, got_list) for w in want]
        elif isinstance(want, dict) and "anyOf" not in want:
            results += compare(want, got if isinstance(got, dict) else {}, f"{path}.")
        else:
            results.append((path, pointer, matches(want, got), want, got))
    return results


def _pointer(prefix: str) -> str:
    return "".join(f"/{part}" for part in prefix.replace("[]", "").split(".") if part)


def corpus_of(entry: dict[str, Any]) -> str:
    if entry["file"].startswith("real/"):
        return f"real {entry['tags'][0]}s"
    return "third-party" if entry["file"].startswith("third-party/") else "generated"


def parse_cached(entry: dict[str, Any], cache: Path | None) -> tuple[Document, float]:
    """The parsed document and the seconds parsing took; from ``cache`` when it holds it (OCR is the
    slow part of a run over receipts, and tuning the extractor does not change it)."""
    data = (EXAMPLES / entry["file"]).read_bytes()
    cached = cache / f"{hashlib.sha256(data).hexdigest()}-{entry['inputType']}.pickle" if cache else None
    if cached is not None and cached.exists():
        return pickle.loads(cached.read_bytes())
    started = time.perf_counter()
    document = parse(entry["inputType"], data)
    result = (document, time.perf_counter() - started)
    if cached is not None:
        cache.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(pickle.dumps(result))
    return result


def without_einvoice(document: Document) -> Document:
    """The document as if its PDF carried no XML: what the page text alone gives."""
    return dataclasses.replace(
        document,
        einvoice=None,
        attachments=[a for a in document.attachments if not a.filename.lower().endswith(".xml")],
    )


CONFIDENCE_BANDS = ((0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.5, 0.7), (0.0, 0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", action="append", type=Path, help="manifest file(s); default: all under examples/")
    parser.add_argument("--only", help="only entries whose file path contains this")
    parser.add_argument("--show-errors", type=int, default=25, help="how many wrong fields to list")
    parser.add_argument("--cache", type=Path, help="keep parsed documents here, to re-run without re-reading (OCR)")
    parser.add_argument("--jobs", type=int, default=1, help="parse this many documents at once")
    args = parser.parse_args()

    entries = []
    for manifest in args.manifest or DEFAULT_MANIFESTS:
        if not manifest.exists():
            print(f"(no {manifest.relative_to(EXAMPLES.parent)}; skipped)", file=sys.stderr)
            continue
        entries += [e for e in json.loads(manifest.read_text()) if not args.only or args.only in e["file"]]
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        parsed = list(pool.map(parse_cached, entries, [args.cache] * len(entries), chunksize=4))

    provider = BuiltinProvider()
    per_field: dict[tuple[str, str], list[bool]] = defaultdict(list)
    per_corpus: dict[str, list[bool]] = defaultdict(list)
    calibration: dict[str, list[tuple[float | None, bool]]] = defaultdict(list)  # corpus -> (confidence, right)
    speed: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # input type -> [pages, seconds]
    errors: list[str] = []
    for entry, (document, elapsed) in zip(entries, parsed):
        kind = entry["inputType"] + (" (ocr)" if any(page.ocr for page in document.pages) else "")
        speed[kind][0] += max(len(document.pages), 1)
        speed[kind][1] += elapsed
        schema = json.loads((EXAMPLES / entry["schema"]).read_text())
        corpus = corpus_of(entry)
        readings = [(corpus, document)]
        if document.einvoice is not None and entry["inputType"] == "pdf":
            readings.append((f"{corpus}, page text only", without_einvoice(document)))
        for corpus, reading in readings:
            extraction = provider.extract(ExtractionRequest(reading, schema, entry["schema"], "transform", b""))
            for path, pointer, correct, want, got in compare(entry["expected"], extraction.content):
                per_field[(corpus, path)].append(correct)
                per_corpus[corpus].append(correct)
                calibration[corpus].append((extraction.confidences.get(pointer) if got is not None else None, correct))
                if not correct:
                    errors.append(f"  [{corpus}] {entry['file']}: {path}: expected {want!r}, got {got!r}")

    print("Field accuracy of the builtin provider (correct / fields in the right answers)\n")
    for corpus in sorted(per_corpus):
        results = per_corpus[corpus]
        print(f"{corpus}: {sum(results)}/{len(results)} = {sum(results) / len(results):.1%}")
        for (c, path), values in sorted(per_field.items()):
            if c == corpus:
                print(f"  {path:<32} {sum(values):>4}/{len(values):<4} {sum(values) / len(values):6.1%}")
    print("\nCalibration: fields by stated confidence, and how many of them were right")
    for corpus, pairs in sorted(calibration.items()):
        print(f"  {corpus}")
        for low, high in CONFIDENCE_BANDS:
            band = [right for confidence, right in pairs if confidence is not None and low <= confidence < high]
            if band:
                print(f"    {low:.1f}–{min(high, 1.0):.1f}  {len(band):>5} fields  {sum(band) / len(band):6.1%} right")
        print(f"    no value  {sum(1 for c, _ in pairs if c is None):>5} fields")
    if errors:
        print(f"\nWrong or missing ({len(errors)}; first {args.show_errors}):")
        print("\n".join(errors[: args.show_errors]))
    print("\nParsing speed per input type")
    for kind, (pages, seconds) in sorted(speed.items()):
        rate = pages / seconds if seconds else float("inf")
        print(f"  {kind:<12} {pages:>4} pages  {seconds:7.3f} s  {rate:8.1f} pages/s")


if __name__ == "__main__":
    main()
