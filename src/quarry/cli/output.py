"""How user commands print what the API answered: a rich table for people, JSON or YAML for
scripts (the API's answer as is)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False)


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


FormatOption = Annotated[Format, typer.Option("--format", "-o", help="table for people, json or yaml for scripts.")]

Column = tuple[str, str]
"""A table column: its header and the dotted path of its value in an item (``mainFunction.name``)."""


def dump(document: Any, fmt: Format) -> None:
    """``document`` as JSON or YAML on stdout."""
    if fmt is Format.yaml:
        import yaml

        print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    else:
        print(json.dumps(document, indent=2, ensure_ascii=False))


def show_list(answer: dict[str, Any], key: str, columns: Sequence[Column], fmt: Format) -> None:
    """A list answer (``{key: [...], "totalCount": n}``): a table of ``columns``, or the whole answer."""
    if fmt is not Format.table:
        dump(answer, fmt)
        return
    items = answer[key]
    table = Table(*(header for header, _ in columns), caption=f"{len(items)} of {answer.get('totalCount', len(items))}")
    for item in items:
        table.add_row(*(_cell(_at(item, path)) for _, path in columns))
    console.print(table)


def show_item(item: dict[str, Any], fmt: Format) -> None:
    """One object: a table of its fields (nested ones as compact JSON), or the object itself."""
    if fmt is not Format.table:
        dump(item, fmt)
        return
    table = Table("field", "value", show_header=False)
    for field, value in item.items():
        table.add_row(Text(field), _cell(value))
    console.print(table)


def _at(item: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _cell(value: Any) -> Text:
    """Plain text: a value like ``[bold]`` is data, never rich markup."""
    if value is None:
        return Text("")
    return Text(json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value))
