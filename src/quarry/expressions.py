"""User-supplied expressions — regular expressions, JMESPath, JSON Schemas — with bounded cost.

A function's definition carries code the server runs on every document: a route's ``patterns``, a
``shapingSchema`` or ``sourceField``, an ``outputSchema``. Each is checked here when it is defined
(a ``ValueError`` becomes a 400) and evaluated here when it runs, so that no definition can freeze
or crash a worker:

- Regular expressions use RE2 (linear time, bounded memory; the syntax of Go's ``regexp``, which
  has no backreferences or lookaround), also for ``pattern`` in JSON Schemas.
- JMESPath expressions and JSON Schemas are limited in length and nesting, because their parsers
  and validators recurse.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.parser
import re2
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError, ValidationError

MAX_REGEX_CHARS = 2_000
REGEX_MAX_MEMORY = 8 * 1024 * 1024  # bytes for one compiled program and its matching state
MAX_JMESPATH_CHARS = 10_000
MAX_JMESPATH_NESTING = 50  # brackets, braces and parentheses inside one another
MAX_SCHEMA_NESTING = 64  # JSON levels of a schema document (one schema level is two: "properties" and the field)


# --- regular expressions ------------------------------------------------------------------------


def _regex_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would write every rejected pattern to stderr
    options.max_mem = REGEX_MAX_MEMORY
    return options


_OPTIONS = _regex_options()


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2; ``ValueError`` with a readable reason when it is not acceptable."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise ValueError(f"a regular expression may have at most {MAX_REGEX_CHARS} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"not a valid regular expression: {reason} (Quarry uses RE2 syntax: no backreferences or lookaround)"
        ) from None


def regex_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` occurs in ``text``; linear in the text whatever the pattern."""
    return compile_regex(pattern).search(text) is not None


# --- JMESPath -------------------------------------------------------------------------------------


def _nesting(expression: str) -> int:
    """The deepest nesting of ``( [ {`` outside quoted identifiers and literals."""
    depth = deepest = 0
    quote: str | None = None
    escaped = False
    for char in expression:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth = max(0, depth - 1)
    return deepest


@functools.lru_cache(maxsize=1024)
def compile_jmespath(expression: str) -> jmespath.parser.ParsedResult:
    """``expression`` parsed; ``ValueError`` when it is invalid, too long or nested too deeply."""
    if len(expression) > MAX_JMESPATH_CHARS:
        raise ValueError(f"a JMESPath expression may have at most {MAX_JMESPATH_CHARS} characters")
    if _nesting(expression) > MAX_JMESPATH_NESTING:
        raise ValueError(f"a JMESPath expression may nest at most {MAX_JMESPATH_NESTING} levels of brackets")
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise ValueError(f"not a valid JMESPath expression: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise ValueError("not a valid JMESPath expression: it is nested too deeply") from None


# --- JSON Schema ----------------------------------------------------------------------------------


def _json_depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_SCHEMA_NESTING:
                return depth
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _regexes(schema: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every regular expression of a schema (``pattern`` values, ``patternProperties`` keys) with where it is."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _regexes(item, f"{path}/{index}")
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                yield value, f"{path}/pattern"
            elif key == "patternProperties" and isinstance(value, dict):
                yield from ((name, f"{path}/patternProperties") for name in value)
            if key != "const" and key != "enum" and key != "default" and key != "examples":
                yield from _regexes(value, f"{path}/{key}")


def check_json_schema(schema: dict[str, Any]) -> None:
    """``ValueError`` unless ``schema`` is a valid JSON Schema Quarry can evaluate within its bounds."""
    if _json_depth(schema) > MAX_SCHEMA_NESTING:
        raise ValueError(f"not a valid JSON Schema here: it nests deeper than {MAX_SCHEMA_NESTING} levels")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise ValueError(f"not a valid JSON Schema: {exc.message}" + (f" (at /{where})" if where else "")) from None
    except RecursionError:
        raise ValueError("not a valid JSON Schema here: it is nested too deeply") from None
    for pattern, where in _regexes(schema):
        try:
            compile_regex(pattern)
        except ValueError as exc:
            raise ValueError(f"{exc} (at {where or '/'})") from None


def _pattern(validator: Any, pattern: str, instance: Any, _schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _matches(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, _schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if _matches(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    extras = sorted(
        (name for name in instance if name not in known and not any(_matches(p, name) for p in patterns)), key=str
    )
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        yield ValidationError(f"Additional properties are not allowed ({', '.join(map(repr, extras))} unexpected)")


def _matches(pattern: str, text: str) -> bool:
    try:
        return regex_search(pattern, text)
    except ValueError:  # a schema stored before patterns were checked: it cannot match anything
        return False


SchemaValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _pattern, "patternProperties": _pattern_properties, "additionalProperties": _additional_properties},
)
"""Draft 2020-12 whose regular expressions run on RE2: a document's text cannot make them backtrack."""
