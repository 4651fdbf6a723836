"""``quarry events``: what functions emitted (results and errors), from ``/v1-alpha/events``."""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from quarry.cli.client import (
    DEFAULT_URL,
    AfterOption,
    BeforeOption,
    Client,
    KeyOption,
    LimitOption,
    Many,
    SortOption,
    SortOrder,
    UrlOption,
    choice,
    in_order,
    page_params,
)
from quarry.cli.output import Format, FormatOption, show_list
from quarry.events.types import EventType

app = typer.Typer(help="List the events functions emitted.", no_args_is_help=True)

COLUMNS = (
    ("event ID", "eventID"),
    ("type", "eventType"),
    ("function", "functionName"),
    ("reference ID", "referenceID"),
    ("call ID", "callID"),
    ("created", "createdAt"),
    ("message", "message"),  # of an error
)
EventTypes = choice("EventType", get_args(EventType))


@app.command("list")
def list_(
    call_id: Many = None,
    event_type: Annotated[list[EventTypes] | None, typer.Option(show_default=False)] = None,
    function_name: Many = None,
    function_id: Many = None,
    reference_id: Many = None,
    reference_id_substring: Annotated[
        str | None, typer.Option(help="Reference IDs containing this (any case).", show_default=False)
    ] = None,
    event_id: Many = None,
    labelled: Annotated[
        bool | None,
        typer.Option("--labelled/--unlabelled", help="Only events with (without) a correction.", show_default=False),
    ] = None,
    limit: LimitOption = 50,
    sort_order: SortOption = SortOrder.asc,
    starting_after: AfterOption = None,
    ending_before: BeforeOption = None,
    fmt: FormatOption = Format.table,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
) -> None:
    """List events. Filters combine with AND; a filter given several times matches any of its values."""
    params = {
        "callIDs": call_id,
        "eventTypes": event_type,
        "functionNames": function_name,
        "functionIDs": function_id,
        "referenceIDs": reference_id,
        "referenceIDSubstring": reference_id_substring,
        "eventIDs": event_id,
        "isLabelled": None if labelled is None else str(labelled).lower(),
        **page_params(limit, sort_order, starting_after, ending_before),
    }
    show_list(Client(url, api_key).get("/v1-alpha/events", params), "events", COLUMNS, fmt, in_order(sort_order))
