"""How user commands print what the API answered: a rich table for people, JSON or YAML for
scripts (the API's answer as is)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.cells import cell_len
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
"""A table column: its header and the dotted path of its value in an item (``mainFunction.name``).
A path ending in ``ID`` or ``id`` (``callID``, ``callReferenceID``, ``id``) holds IDs."""

NARROWEST = 10
"""How narrow a column other than IDs may get (its values wrapping) before a table grows wider
than the terminal."""


def dump(document: Any, fmt: Format) -> None:
    """``document`` as JSON or YAML on stdout."""
    if fmt is Format.yaml:
        import yaml

        print(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), end="")
    else:
        print(json.dumps(document, indent=2, ensure_ascii=False))


def show_list(answer: dict[str, Any], key: str, columns: Sequence[Column], fmt: Format, order: str) -> None:
    """A list answer (``{key: [...], "totalCount": n}``): a table of ``columns`` whose caption says
    how many of how many and in which ``order``, or the whole answer."""
    if fmt is not Format.table:
        dump(answer, fmt)
        return
    items = answer[key]
    show_table(columns, items, caption=f"{len(items)} of {answer.get('totalCount', len(items))}, {order}")


def show_table(columns: Sequence[Column], items: Sequence[dict[str, Any]], **options: Any) -> None:
    """``items`` as a table (``options`` of rich's :class:`Table`) that cuts no value: an ID is
    copied into the next command, so it stays whole on one line, even if the table must be wider
    than the terminal; other values wrap."""
    rows = [[_cell(_at(item, path)) for _, path in columns] for item in items]
    table = Table(**options)
    width = 1  # the left border; then each column has a space either side and a border on its right
    for index, (header, path) in enumerate(columns):
        is_id = path == "id" or path.endswith((".id", "ID"))
        table.add_column(header, no_wrap=is_id, overflow="fold")
        widest = max([cell_len(header), *(row[index].cell_len for row in rows)])
        width += (widest if is_id else min(widest, NARROWEST)) + 3
    for row in rows:
        table.add_row(*row)
    Console(highlight=False, width=max(console.width, width)).print(table)  # console.print(width=) only narrows


def show_item(item: dict[str, Any], fmt: Format) -> None:
    """One object: a table of its fields (nested ones as compact JSON), or the object itself."""
    if fmt is not Format.table:
        dump(item, fmt)
        return
    table = Table(show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")  # a long URL wraps: cut, it could not be used
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
