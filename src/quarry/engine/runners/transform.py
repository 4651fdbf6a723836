"""transform / analyze: JSON out of each input document, against the function's output schema."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from quarry.documents.text import json_text
from quarry.engine.runners import Emission, RunInput
from quarry.ids import new_id
from quarry.providers.llm.builtin import extract


def invalid_properties(content: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Top-level properties that are missing although required, or whose value breaks the schema."""
    bad = set()
    for error in Draft202012Validator(schema).iter_errors(content):
        if error.validator == "required" and not error.path:
            bad.update(name for name in error.validator_value if name not in content)
        elif error.path:
            bad.add(str(error.path[0]))
    return sorted(bad)


def _emission(content: dict[str, Any], confidences: dict[str, float], schema: dict[str, Any], **extra: Any) -> Emission:
    body = {
        "transformationID": new_id("tr"),
        "transformedContent": content,
        "invalidProperties": invalid_properties(content, schema),
        "avgConfidence": sum(confidences.values()) / len(confidences) if confidences else 0.0,
        "fieldConfidences": confidences,
        **extra,
    }
    return Emission("transform", body, output=content)


def run(run_input: RunInput) -> list[Emission]:
    schema = run_input.config["outputSchema"]
    if run_input.payload is not None:
        content, confidences = extract(json_text(run_input.payload), schema)
        return [_emission(content, confidences, schema, itemOffset=0, itemCount=1)]
    emissions = []
    for offset, file in enumerate(run_input.files):
        content, confidences = extract(file.text(), schema)
        emissions.append(
            _emission(
                content,
                confidences,
                schema,
                itemOffset=offset,
                itemCount=len(run_input.files),
                inputType=file.input_type,
                s3BlobKey=file.blob_key,
            )
        )
    return emissions
