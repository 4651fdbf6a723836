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
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from quarry.documents.parse import parse
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.builtin import BuiltinProvider
from quarry.providers.llm.builtin.values import fold

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_MANIFESTS = [EXAMPLES / "manifest.json", EXAMPLES / "third-party" / "manifest.json"]
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


def compare(expected: dict[str, Any], actual: dict[str, Any], prefix: str = "") -> list[tuple[str, bool, Any, Any]]:
    """(field path, correct?, expected, actual) for every field of the right answer."""
    results = []
    for key, want in expected.items():
        got = actual.get(key) if isinstance(actual, dict) else None
        path = f"{prefix}{key}"
        if isinstance(want, list) and want and isinstance(want[0], dict):
            got_items = got if isinstance(got, list) else []
            for index, item in enumerate(want):
                other = got_items[index] if index < len(got_items) and isinstance(got_items[index], dict) else {}
                results += compare(item, other, f"{path}[].")
        elif isinstance(want, list):
            got_list = got if isinstance(got, list) else []
            results += [(f"{path}[]", any(matches(w, g) for g in got_list), w, got_list) for w in want]
        elif isinstance(want, dict) and "anyOf" not in want:
            results += compare(want, got if isinstance(got, dict) else {}, f"{path}.")
        else:
            results.append((path, matches(want, got), want, got))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", action="append", type=Path, help="manifest file(s); default: all under examples/")
    parser.add_argument("--only", help="only entries whose file path contains this")
    parser.add_argument("--show-errors", type=int, default=25, help="how many wrong fields to list")
    args = parser.parse_args()

    provider = BuiltinProvider()
    per_field: dict[tuple[str, str], list[bool]] = defaultdict(list)
    per_corpus: dict[str, list[bool]] = defaultdict(list)
    speed: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # input type -> [pages, seconds]
    errors: list[str] = []
    for manifest in args.manifest or DEFAULT_MANIFESTS:
        if not manifest.exists():
            print(f"(no {manifest.relative_to(EXAMPLES.parent)}; skipped)", file=sys.stderr)
            continue
        for entry in json.loads(manifest.read_text()):
            if args.only and args.only not in entry["file"]:
                continue
            corpus = "third-party" if entry["file"].startswith("third-party/") else "generated"
            data = (EXAMPLES / entry["file"]).read_bytes()
            schema = json.loads((EXAMPLES / entry["schema"]).read_text())
            started = time.perf_counter()
            document = parse(entry["inputType"], data)
            elapsed = time.perf_counter() - started
            kind = entry["inputType"] + (" (ocr)" if any(page.ocr for page in document.pages) else "")
            speed[kind][0] += max(len(document.pages), 1)
            speed[kind][1] += elapsed
            extraction = provider.extract(ExtractionRequest(document, schema, entry["schema"], "transform", data))
            for path, correct, want, got in compare(entry["expected"], extraction.content):
                per_field[(corpus, path)].append(correct)
                per_corpus[corpus].append(correct)
                if not correct:
                    errors.append(f"  {entry['file']}: {path}: expected {want!r}, got {got!r}")

    print("Field accuracy of the builtin provider (correct / fields in the right answers)\n")
    for corpus in sorted(per_corpus):
        results = per_corpus[corpus]
        print(f"{corpus}: {sum(results)}/{len(results)} = {sum(results) / len(results):.1%}")
        for (c, path), values in sorted(per_field.items()):
            if c == corpus:
                print(f"  {path:<32} {sum(values):>4}/{len(values):<4} {sum(values) / len(values):6.1%}")
    if errors:
        print(f"\nWrong or missing ({len(errors)}; first {args.show_errors}):")
        print("\n".join(errors[: args.show_errors]))
    print("\nParsing speed per input type")
    for kind, (pages, seconds) in sorted(speed.items()):
        rate = pages / seconds if seconds else float("inf")
        print(f"  {kind:<12} {pages:>4} pages  {seconds:7.3f} s  {rate:8.1f} pages/s")


if __name__ == "__main__":
    main()
