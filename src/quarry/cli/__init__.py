"""The ``quarry`` command. Admin commands (serve, worker, smtp, keys, environments, db) work on the
server's own database; user commands (functions, workflows, calls, events) go through the HTTP
API at QUARRY_URL with QUARRY_API_KEY, as any client would."""

from __future__ import annotations

import sys

import typer

from quarry.cli import admin, calls, events
from quarry.cli.definitions import FUNCTIONS, WORKFLOWS, commands
from quarry.cli.failure import EXIT_FAILURE, Failure
from quarry.config import SettingsError

app = typer.Typer(
    help="Quarry: documents in, structured JSON out, through the bem v2 API.\n\n"
    "Configuration comes from QUARRY_* environment variables (see the README).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
ADMIN, USER = "Admin (on the server's data)", "User (over HTTP: QUARRY_URL, QUARRY_API_KEY)"
app.command(rich_help_panel=ADMIN)(admin.serve)
app.command(rich_help_panel=ADMIN)(admin.worker)
app.command(rich_help_panel=ADMIN)(admin.smtp)
app.command(rich_help_panel=ADMIN)(admin.drain)
app.command(rich_help_panel=ADMIN)(admin.backup)
app.command(rich_help_panel=ADMIN)(admin.restore)
app.add_typer(admin.keys_app, name="keys", rich_help_panel=ADMIN)
app.add_typer(admin.environments_app, name="environments", rich_help_panel=ADMIN)
app.add_typer(admin.db_app, name="db", rich_help_panel=ADMIN)
app.add_typer(commands(FUNCTIONS), name="functions", rich_help_panel=USER)
app.add_typer(commands(WORKFLOWS), name="workflows", rich_help_panel=USER)
app.add_typer(calls.app, name="calls", rich_help_panel=USER)
app.add_typer(events.app, name="events", rich_help_panel=USER)


def main() -> None:
    try:
        app()
    except (Failure, SettingsError) as failure:
        print(f"quarry: {failure}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    except OSError as exc:  # a file that cannot be read or written
        print(f"quarry: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(EXIT_FAILURE)
    except KeyboardInterrupt:
        print("quarry: interrupted (what the server had accepted goes on there)", file=sys.stderr)
        sys.exit(130)
