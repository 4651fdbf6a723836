"""payload_shaping: a JMESPath expression applied to JSON, without any model."""

from __future__ import annotations

from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.functions

from quarry.engine.runners import Emission, FunctionError, RunInput
from quarry.expressions import compile_jmespath


class _Functions(jmespath.functions.Functions):
    """Standard JMESPath plus ``unique``, which bem's own examples use."""

    @jmespath.functions.signature({"types": ["array"]})
    def _func_unique(self, values: list[Any]) -> list[Any]:
        seen: list[Any] = []
        for value in values:
            if value not in seen:
                seen.append(value)
        return seen


_OPTIONS = jmespath.Options(custom_functions=_Functions())


def run(run_input: RunInput) -> list[Emission]:
    expression = run_input.config["shapingSchema"]
    emissions = []
    for document in run_input.json_inputs():
        try:
            shaped = compile_jmespath(expression).search(document, options=_OPTIONS)
        except (ValueError, jmespath.exceptions.JMESPathError) as exc:
            raise FunctionError(f"the shaping expression failed: {exc}".replace("\n", " ")) from None
        emissions.append(Emission("payload_shaping", {"transformedContent": shaped}, output=shaped))
    return emissions
