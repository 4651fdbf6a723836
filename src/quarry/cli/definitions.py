"""``quarry functions`` and ``quarry workflows``: the same four commands over two collections of
named, versioned definitions, built from one description of each.

(No ``from __future__ import annotations``: typer reads the local ``Name`` alias at run time.)"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from quarry.cli.client import DEFAULT_URL, Client, KeyOption, LimitOption, UrlOption
from quarry.cli.failure import Failure
from quarry.cli.output import Column, Format, FormatOption, console, show_item, show_list


@dataclass(frozen=True)
class Definitions:
    noun: str  # "function"
    path: str  # "/v2/functions"
    envelope: str | None  # the key one object is wrapped in ("workflow"), or None when bare
    name_field: str
    id_field: str
    columns: tuple[Column, ...]

    @property
    def plural(self) -> str:
        return self.noun + "s"

    def item(self, answer: dict[str, Any]) -> dict[str, Any]:
        return answer[self.envelope] if self.envelope else answer


FUNCTIONS = Definitions(
    "function",
    "/v2/functions",
    None,
    "functionName",
    "functionID",
    (("name", "functionName"), ("type", "type"), ("version", "versionNum"), ("ID", "functionID")),
)
WORKFLOWS = Definitions(
    "workflow",
    "/v2/workflows",
    "workflow",
    "name",
    "id",
    (("name", "name"), ("version", "versionNum"), ("main function", "mainFunction.name"), ("ID", "id")),
)


def read_json(path: Path) -> Any:
    """A JSON file's content, or a :class:`Failure` saying where it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise Failure(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Failure(f"{path} is not JSON: {exc}") from None


def commands(kind: Definitions) -> typer.Typer:
    """The ``list``, ``get``, ``create`` and ``delete`` commands of one kind of definition."""
    app = typer.Typer(help=f"List, show, create and delete {kind.plural}.", no_args_is_help=True)
    Name = Annotated[str, typer.Argument(help=f"The {kind.noun}'s name.", show_default=False)]

    @app.command("list", help=f"List {kind.plural}, oldest first.")
    def list_(
        limit: LimitOption = 50,
        fmt: FormatOption = Format.table,
        url: UrlOption = DEFAULT_URL,
        api_key: KeyOption = None,
    ) -> None:
        show_list(Client(url, api_key).get(kind.path, {"limit": limit}), kind.plural, kind.columns, fmt, "oldest first")

    @app.command("get", help=f"Show a {kind.noun} (its latest version).")
    def get(name: Name, fmt: FormatOption = Format.json, url: UrlOption = DEFAULT_URL, api_key: KeyOption = None):
        show_item(kind.item(Client(url, api_key).get(f"{kind.path}/{quote(name, safe='')}")), fmt)

    if kind is FUNCTIONS:
        _function_commands(app)
    else:

        @app.command("create", help=f"Create a {kind.noun} from a JSON file (the body of POST {kind.path}).")
        def create(
            file: Annotated[Path, typer.Option("--file", "-f", help="JSON body of the request, sent as is.")],
            url: UrlOption = DEFAULT_URL,
            api_key: KeyOption = None,
        ) -> None:
            _create(kind, Client(url, api_key), read_json(file))

    @app.command("delete", help=f"Delete a {kind.noun} and all its versions.")
    def delete(name: Name, url: UrlOption = DEFAULT_URL, api_key: KeyOption = None) -> None:
        Client(url, api_key).delete(f"{kind.path}/{quote(name, safe='')}")
        console.print(f"Deleted {kind.noun} '{name}'.")

    return app


SampleOption = Annotated[
    Path,
    typer.Argument(help="A sample document (PDF, image, spreadsheet, email, …).", exists=True, dir_okay=False),
]


def infer_schema(client: Client, sample: Path) -> dict[str, Any]:
    """``POST /v3/infer-schema`` with ``sample``: the answer's ``analysis``."""
    try:
        data = sample.read_bytes()
    except OSError as exc:
        raise Failure(f"cannot read {sample}: {exc.strerror}") from None
    return client.upload("/v3/infer-schema", "file", sample.name, data)["analysis"]  # type: ignore[no-any-return]


def _schema_name(analysis: dict[str, Any]) -> str:
    """An ``outputSchemaName`` from the schema's title or the document type: ``Invoice``."""
    kinds = analysis.get("documentTypes") or [{}]
    name = analysis["schema"].get("title") or kinds[0].get("name") or "Document"
    return "".join(part.capitalize() for part in str(name).replace("_", " ").split()) or "Document"


def _create(kind: Definitions, client: Client, body: Any) -> None:
    created = kind.item(client.post(kind.path, body))
    console.print(
        f"Created {kind.noun} '{created[kind.name_field]}' (version {created['versionNum']},"
        f" ID {created[kind.id_field]})."
    )


def _function_commands(app: typer.Typer) -> None:
    """``functions create`` (with ``--schema-from``) and ``functions infer-schema``."""

    @app.command(
        "create",
        help="Create a function from a JSON file (the body of POST /v2/functions). With --schema-from, the "
        "outputSchema is the one inferred from a sample document (and outputSchemaName, unless the file names one, "
        "the kind of document it is).",
    )
    def create(
        file: Annotated[Path, typer.Option("--file", "-f", help="JSON body of the request.")],
        schema_from: Annotated[
            Path | None,
            typer.Option(
                "--schema-from",
                help="A sample document: its inferred schema becomes the body's outputSchema.",
                exists=True,
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        url: UrlOption = DEFAULT_URL,
        api_key: KeyOption = None,
    ) -> None:
        body = read_json(file)
        client = Client(url, api_key)
        if schema_from is not None:
            if not isinstance(body, dict):
                raise Failure(f"{file} is not a JSON object")
            analysis = infer_schema(client, schema_from)
            body["outputSchema"] = analysis["schema"]
            body.setdefault("outputSchemaName", _schema_name(analysis))
        _create(FUNCTIONS, client, body)

    @app.command(
        "infer-schema",
        help="Propose an output schema from a sample document (POST /v3/infer-schema) and print it as JSON "
        "(with --analysis, the whole analysis).",
    )
    def infer(
        sample: SampleOption,
        analysis: Annotated[bool, typer.Option("--analysis", help="Print the whole analysis.")] = False,
        url: UrlOption = DEFAULT_URL,
        api_key: KeyOption = None,
    ) -> None:
        found = infer_schema(Client(url, api_key), sample)
        print(json.dumps(found if analysis else found["schema"], indent=2, ensure_ascii=False))
