"""How field confidences from log-probabilities track correctness, on scripted models.

    .venv/bin/python bench/calibration.py [--cases 500] [--seed 7]

The openai provider is pointed at a local fake endpoint (``tests/harness/fake_model.py``) that
answers each extraction with an invoice number and token log-probabilities. Each case draws the
probability ``p`` the scripted model gives its value (spread from 0.3 to 0.999) and whether the
value is right: for a **calibrated** model, right with probability ``p``; for an
**over-confident** one, with probability ``p³`` (it says 90 % where it is right 73 % of the time).
Quarry's confidence for the field comes out of the provider, over real HTTP, as in production.

Printed: per confidence bucket, how many fields, their mean confidence and the share that was
right, for each model; and the expected calibration error (the count-weighted mean gap between
confidence and share right). On the calibrated model the two columns agree (the arithmetic keeps
the model's probability); on the over-confident one they do not, and only labelled data can show
it: a real model's calibration must be measured on the user's own documents, with their
corrections (docs/providers.md, "Are the confidences right?").
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable

import repo_root  # noqa: F401  (puts the repository root on sys.path, for tests.harness)

from quarry.documents.model import text_document
from quarry.providers.llm import ExtractionRequest
from quarry.providers.llm.openai import OpenAIProvider
from tests.harness.endpoints import Reply
from tests.harness.fake_model import FakeOpenAI, answer_with_logprobs

SCHEMA = {"type": "object", "properties": {"invoiceNumber": {"type": "string"}}}
BUCKETS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.85), (0.85, 0.95), (0.95, 0.99), (0.99, 1.0001)]
MODELS: dict[str, Callable[[float], float]] = {
    "calibrated": lambda p: p,
    "over-confident": lambda p: p**3,
}


def scripted_answer(value: str, probability: float) -> Reply:
    """``{"invoiceNumber": value}``, the value's tokens carrying ``log(probability)`` between them,
    the JSON around it certain."""
    half = math.log(probability) / 2
    return answer_with_logprobs([('{"invoiceNumber": "', 0.0), (value[:4], half), (value[4:], half), ('"}', 0.0)])


def run(model: Callable[[float], float], cases: int, rng: random.Random, fake: FakeOpenAI) -> list[tuple[float, bool]]:
    """(Quarry's confidence, whether the value was right) per case."""
    provider = OpenAIProvider(base_url=fake.url, model="scripted", strict=False, sleep=lambda s: None)
    results = []
    for n in range(cases):
        truth = f"INV-{n:05d}"
        probability = 0.3 + 0.699 * rng.random() ** 0.5  # more cases where models mostly are: high
        right = rng.random() < model(probability)
        value = truth if right else f"INV-{(n + 1 + rng.randrange(9)) % 100_000:05d}"  # a misread number
        fake.script(scripted_answer(value, probability))
        request = ExtractionRequest(text_document("text", f"Invoice {truth}"), SCHEMA, "Invoice", "transform")
        extraction = provider.extract(request)
        results.append((extraction.confidences["/invoiceNumber"], extraction.content["invoiceNumber"] == truth))
    return results


def table(results: list[tuple[float, bool]]) -> tuple[list[tuple[str, int, float, float]], float]:
    rows, gap = [], 0.0
    for low, high in BUCKETS:
        inside = [(c, right) for c, right in results if low <= c < high]
        if not inside:
            continue
        mean = sum(c for c, _ in inside) / len(inside)
        share = sum(right for _, right in inside) / len(inside)
        rows.append((f"{low:.2f}–{min(high, 1):.2f}", len(inside), mean, share))
        gap += len(inside) * abs(mean - share)
    return rows, gap / len(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=500, help="extractions per model (default 500)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    fake = FakeOpenAI()
    try:
        for name, model in MODELS.items():
            rows, error = table(run(model, args.cases, random.Random(args.seed), fake))
            print(f"\n== {name} model: {args.cases} fields; expected calibration error {error:.3f}")
            print(f"{'confidence':>12} {'fields':>7} {'mean confidence':>16} {'share right':>12}")
            for bucket, count, mean, share in rows:
                print(f"{bucket:>12} {count:>7} {mean:>16.3f} {share:>12.3f}")
    finally:
        fake.close()


if __name__ == "__main__":
    main()
