"""enrich: look-ups in collections, step by step, their results injected into the JSON.

Each step evaluates ``sourceField`` (JMESPath) on the JSON as the previous steps left it; every
value it selects (arrays are flattened) is searched in ``collectionName``; the results, best
first, become the array ``targetField``: ``[{"data": <item>, "cosineDistance"?: d}]``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jmespath.exceptions

from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.expressions import compile_jmespath


def run(run_input: RunInput) -> list[Emission]:
    if run_input.search is None:
        raise FunctionError("this runner needs collection search")  # only the engine runs enrich
    steps = run_input.config["config"]["steps"]
    emissions = []
    for data in run_input.json_inputs():
        if not isinstance(data, dict):
            raise FunctionError(f"enrich needs a JSON object to add its results to; it got {type(data).__name__}")
        enriched = copy.deepcopy(data)
        for number, step in enumerate(steps, start=1):
            enriched[step["targetField"]] = _results(run_input, step, _queries(enriched, step, number))
        emissions.append(Emission("enrich", {"enrichedContent": enriched}, output=enriched))
    return emissions


def _queries(data: dict[str, Any], step: dict[str, Any], number: int) -> list[str]:
    """The texts to search for: every non-empty value ``sourceField`` selects, arrays flattened."""
    try:
        selected = compile_jmespath(step["sourceField"]).search(data)
    except (ValueError, jmespath.exceptions.JMESPathError) as exc:
        raise FunctionError(f"step {number}: sourceField failed: {exc}".replace("\n", " ")) from None
    values = _flatten(selected)
    return [value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) for value in values]


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [item for element in value for item in _flatten(element)]
    if value is None or value == "":
        return []
    return [value]


def _results(run_input: RunInput, step: dict[str, Any], queries: list[str]) -> list[dict[str, Any]]:
    """Each query's ``topK`` best items, best first overall; an item found twice is listed once."""
    found: dict[str, tuple[Any, float | None]] = {}
    for query in queries:
        for data, distance in run_input.search(
            step["collectionName"],
            query,
            top_k=step.get("topK", 1),
            mode=step.get("searchMode", "semantic"),
            score_threshold=step.get("scoreThreshold", 0.6),
            include_subcollections=step.get("includeSubcollections", False),
        ):
            key = json.dumps(data, sort_keys=True, ensure_ascii=False)
            if key not in found or _better(distance, found[key][1]):
                found[key] = (data, distance)
    ranked = sorted(found.values(), key=lambda hit: 0.0 if hit[1] is None else hit[1])
    include = step.get("includeCosineDistance", False)
    return [
        {"data": data} | ({"cosineDistance": distance} if include and distance is not None else {})
        for data, distance in ranked
    ]


def _better(distance: float | None, other: float | None) -> bool:
    return distance is not None and (other is None or distance < other)
