"""Admin commands: serve the API, run workers, manage keys, environments and the database.

They open the database directly (no HTTP), so they run where the server's data is: the same
``QUARRY_DATA_DIR`` (per user by default) or ``QUARRY_DATABASE_URL``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel

from quarry.cli import preflight
from quarry.cli.failure import Failure
from quarry.cli.output import show_table
from quarry.config import Settings

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
environments_app = typer.Typer(help="List and create environments.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
console = Console()
KEY_COLUMNS = [("ID", "id"), *((field, field) for field in ("name", "environment", "prefix", "created", "revoked"))]


def _open(create: bool = False):  # type: ignore[no-untyped-def]
    """Settings, database and account. Only ``create`` makes (or migrates into) a new database:
    any other command run against the wrong data would hand out keys no server knows."""
    settings = Settings.from_env()
    if not create and not preflight.database_exists(settings):
        raise Failure(
            f"no Quarry database at {preflight.database_location(settings)}: point QUARRY_DATA_DIR (or"
            " QUARRY_DATABASE_URL) at the server's data, or start `quarry serve` to create one"
        )
    return (settings, *_set_up(settings))


def _open_to_run():  # type: ignore[no-untyped-def]
    """What ``serve`` and ``worker`` run on: settings, database, account and blob store, each
    checked before the database is created or migrated; no work in flight that this version
    cannot finish."""
    settings = Settings.from_env()
    preflight.database_exists(settings)  # reached (a Failure if not), before the bucket and the schema
    blobs = preflight.blob_store(settings)
    preflight.no_foreign_work(settings)
    return (settings, *_set_up(settings), blobs)


def _set_up(settings: Settings):  # type: ignore[no-untyped-def]
    """The database, migrated to the latest schema, and the account."""
    import sqlalchemy.exc

    from quarry.bootstrap import open_database
    from quarry.tenancy.service import ensure_default_account

    try:
        db = open_database(settings)
        with db.write() as session:
            return db, ensure_default_account(session).id
    except sqlalchemy.exc.DBAPIError as exc:
        raise preflight.set_up_failed(settings, exc) from None
    except OSError as exc:
        raise preflight.not_writable(exc, "QUARRY_DATA_DIR (or QUARRY_DATABASE_URL)") from None


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
    workers: bool = typer.Option(
        True, "--workers/--no-workers", help="Also run calls, in worker processes of this one (--no-workers: API only)."
    ),
    worker_processes: int = typer.Option(
        1, min=1, help="Worker processes to run beside the API, each QUARRY_WORKERS function calls at once."
    ),
    access_log: bool = typer.Option(
        False, "--access-log/--no-access-log", help="Log every request (a tenth of the cost of a small request)."
    ),
) -> None:
    """Serve the API (embedded default: SQLite in QUARRY_DATA_DIR); calls run in worker processes
    that this one starts, restarts if they die, and stops with it."""
    import os
    import signal
    import sys

    import uvicorn

    from quarry import tracing
    from quarry.app import create_app, stop_streams
    from quarry.bootstrap import bootstrap
    from quarry.engine.engine import Role
    from quarry.engine.supervisor import WorkerSupervisor
    from quarry.engine.upgrades import end_drain
    from quarry.logs import configure as configure_logs
    from quarry.metrics import share_between_processes
    from quarry.tenancy.service import create_api_key, has_active_key

    sockets = preflight.listening_sockets(host, port)
    settings, db, account_id, blobs = _open_to_run()
    configure_logs(settings.log_format, settings.log_level)
    tracing.configure("api")
    console.print(f"Quarry: {preflight.data_location(settings)}")
    if Path("quarry-data", "quarry.db").is_file() and settings.data_dir != Path("quarry-data").absolute():
        console.print(
            "Note: ./quarry-data (the data directory of older Quarry versions) is not used;"
            f" QUARRY_DATA_DIR=./quarry-data serves it, or move it to {settings.data_dir}."
        )
    if settings.api_key:
        console.print("API key: QUARRY_API_KEY is accepted as a key of the 'production' environment.")
    else:
        with db.write() as session:
            first_key = None
            if settings.is_embedded and not has_active_key(session, account_id):
                _, first_key = create_api_key(session, account_id, "production", "first-start")
        if first_key:
            console.print(
                Panel(
                    f"[bold]{first_key}[/bold]\n\nYour first API key (environment 'production'). It is shown only once:"
                    " send it in the x-api-key header.",
                    title="API key",
                )
            )
        else:
            console.print("API keys: create one with `quarry keys create --environment production`.")
    console.print(
        f"Listening on http://{host}:{port}  (dashboard: http://{host}:{port}/, "
        f"API reference: http://{host}:{port}/docs)"
    )
    if not workers:
        console.print("API only (--no-workers): calls are queued and run by `quarry worker` processes.")
    settings = dataclasses.replace(settings, listen_url=f"http://{host}:{port}")
    end_drain(db)  # a drain lasts until the deployment is started again
    process = bootstrap(settings, Role.API, db, blobs)
    if workers:
        # before any child starts: the API process's /metrics adds up what its workers count
        share_between_processes(settings.data_dir / "metrics")
        command = [sys.executable, "-m", "quarry", "worker", "--supervised-by", str(os.getpid())]
        command += ["--listen-url", settings.listen_url]
        supervisor = WorkerSupervisor(db, process.engine.executor_id, command, os.environ, worker_processes)
        process.engine.supervise(supervisor)
        console.print(f"Workers: {', '.join(supervisor.executor_ids)} (child processes, restarted if they die)")
    # uvicorn shuts down gracefully on SIGTERM/SIGINT (the engine drains), then raises the signal
    # again for the handler that was there before it: a drained Quarry has nothing left to do
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    app = create_app(process)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            stop_streams(app)  # open streams of call changes end, so that the server can stop
            super().handle_exit(sig, frame)

    log_config = uvicorn.config.LOGGING_CONFIG if settings.log_format == "text" else None  # JSON: Quarry's format
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=access_log, log_config=log_config)
    # mail is answered "try later" until the API's lifespan has started the engine
    listener = _start_smtp(process, settings.smtp_host or host, settings.smtp_port) if settings.smtp_port else None
    Server(config).run(sockets=sockets)
    if listener is not None:
        listener.stop()
    _exit_now()


def smtp(
    host: str = typer.Option(None, help="Interface to listen on (default: QUARRY_SMTP_HOST, else 127.0.0.1)."),
    port: int = typer.Option(None, min=1, help="TCP port to listen on (default: QUARRY_SMTP_PORT)."),
) -> None:
    """Receive email, serving no API: mail to a function's or workflow's address starts a call,
    which the deployment's workers run (`quarry serve`, `quarry worker`, on the same data)."""
    import signal

    from quarry.engine.stopping import StopRequest

    stopping = StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stopping.ask)

    from quarry import tracing
    from quarry.bootstrap import bootstrap
    from quarry.engine.engine import Role
    from quarry.logs import configure as configure_logs

    settings, db, _, blobs = _open_to_run()
    port = port or settings.smtp_port
    if not port:
        raise Failure("quarry smtp needs a port: set QUARRY_SMTP_PORT (or give --port)")
    configure_logs(settings.log_format, settings.log_level)
    tracing.configure("smtp")
    process = bootstrap(settings, Role.API, db, blobs)  # it enqueues calls, never runs them
    # first: a port in use fails before anything runs; mail is answered "try later" until the engine has started
    listener = _start_smtp(process, host or settings.smtp_host or "127.0.0.1", port)
    process.engine.start()
    stopping.wait()
    listener.stop()
    process.engine.stop()
    console.print("Stopped.")
    _exit_now()


def _start_smtp(process: Any, host: str, port: int) -> Any:
    """The SMTP listener of ``process``, started (a ``Failure`` if it cannot listen)."""
    from quarry.smtp.listener import smtp_listener

    settings = process.settings
    try:
        listener = smtp_listener(process, host, port)
        listener.start()
    except (OSError, ValueError) as exc:  # a port in use, a certificate that cannot be read
        raise Failure(f"cannot receive email on {host}:{port}: {exc}") from None
    tls = "STARTTLS" if settings.smtp_tls_cert else "no TLS"
    auth = "AUTH with an API key required" if settings.smtp_require_auth else "AUTH optional"
    console.print(
        f"Email: SMTP on {host}:{port} for @{settings.email_domain} ({tls}, {auth},"
        f" messages up to {settings.smtp_message_limit} bytes)",
        highlight=False,
    )
    return listener


def worker(
    concurrency: int = typer.Option(
        None, min=1, help="Function calls in flight at once (default QUARRY_WORKERS); mostly waiting on I/O."
    ),
    supervised_by: int = typer.Option(None, hidden=True, help="PID of the `quarry serve` that started this worker."),
    listen_url: str = typer.Option(None, hidden=True, help="Where that `quarry serve` listens."),
) -> None:
    """Run calls from the shared queue, serving no API (distributed: PostgreSQL and S3 blobs).

    SIGTERM or Ctrl-C drains: no new work is taken, in-flight work gets QUARRY_DRAIN_SECONDS to
    finish, what is left is handed back to the other workers, and the process exits 0."""
    import signal

    from quarry.engine.stopping import StopRequest

    stopping = StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):  # first: a stop while starting up is a stop too
        signal.signal(signum, stopping.ask)

    from quarry import tracing
    from quarry.bootstrap import bootstrap
    from quarry.engine.engine import Role
    from quarry.engine.supervisor import follow_parent
    from quarry.logs import configure as configure_logs
    from quarry.storage.db import Database

    if supervised_by:  # the supervisor has migrated the database and made the account
        follow_parent(supervised_by, stopping.ask)
        settings = dataclasses.replace(Settings.from_env(), listen_url=listen_url)
        db = Database(settings.database_url, settings.db_pool_size)
        blobs = None  # checked by the supervisor: bootstrap opens it
    else:
        settings, db, _, blobs = _open_to_run()
    configure_logs(settings.log_format, settings.log_level)
    tracing.configure("worker")
    if concurrency:
        settings = dataclasses.replace(settings, workers=concurrency)
    engine = bootstrap(settings, Role.WORKER, db, blobs).engine
    if stopping.asked:  # stopped (or orphaned) while starting
        _exit_now()
    engine.start()
    where = preflight.data_location(settings)
    console.print(f"Quarry worker {engine.executor_id}: {where}, {settings.workers} function calls at once")
    if settings.metrics and settings.metrics_port and not supervised_by:  # a child's count in its serve's /metrics
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port)
        console.print(f"Metrics: http://0.0.0.0:{settings.metrics_port}/metrics")
    stopping.wait()
    console.print(f"Draining (up to {settings.drain_seconds:g} s)…")
    engine.stop(settings.drain_seconds)
    console.print("Stopped.")
    _exit_now()


def _exit_now() -> None:
    """Exit 0 without waiting for threads still inside handed-back work (they would only
    duplicate what another worker now does)."""
    import os
    import sys

    from quarry import tracing

    tracing.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@keys_app.command("create")
def keys_create(
    environment: str = typer.Option("production", "--environment", "-e", help="Environment the key belongs to."),
    name: str = typer.Option("cli", help="A name to recognise the key by (shown in audit records)."),
) -> None:
    """Create an API key and print it (only once)."""
    from quarry.tenancy.service import TenancyError, create_api_key

    _, db, account_id = _open()
    try:
        with db.write() as session:
            key, secret = create_api_key(session, account_id, environment, name)
    except TenancyError as exc:
        raise Failure(str(exc)) from None
    console.print(f"Created key {key.id} ({name}) for environment '{environment}':", highlight=False)
    print(secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (their secrets are never stored, only a prefix)."""
    from quarry.tenancy.service import list_api_keys

    _, db, account_id = _open()
    with db.read() as session:
        keys = [
            {
                "id": key.id,
                "name": key.name,
                "environment": environment.name,
                "prefix": key.key_prefix + "…",
                "created": key.created_at.isoformat(timespec="seconds"),
                "revoked": key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
            }
            for key, environment in list_api_keys(session, account_id)
        ]
    show_table(KEY_COLUMNS, keys)


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key's ID, as `quarry keys list` shows it.")) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    from quarry.tenancy.service import TenancyError, revoke_api_key

    _, db, account_id = _open()
    try:
        with db.write() as session:
            revoke_api_key(session, account_id, key_id)
    except TenancyError as exc:
        raise Failure(str(exc)) from None
    console.print(f"Revoked {key_id}.")


@environments_app.command("list")
def environments_list() -> None:
    """List environments."""
    from quarry.tenancy.service import list_environments

    _, db, account_id = _open()
    with db.read() as session:
        for environment in list_environments(session, account_id):
            print(environment.name)


@environments_app.command("create")
def environments_create(name: str = typer.Argument(..., help="Name of the new environment.")) -> None:
    """Create an environment (production and sandbox exist from the start)."""
    from quarry.tenancy.service import TenancyError, create_environment

    _, db, account_id = _open()
    try:
        with db.write() as session:
            create_environment(session, account_id, name)
    except TenancyError as exc:
        raise Failure(str(exc)) from None
    console.print(f"Created environment '{name}'.")


def drain(
    timeout: float = typer.Option(None, min=0, help="Give up after this many seconds (exit 1); default: wait."),
) -> None:
    """Before an upgrade of the engine: new calls are refused (503) while the calls in flight
    finish; returns once none is. Then stop every process, upgrade, and start the new version
    (its start ends the drain). Run it with the version still installed."""
    from quarry.calls.counts import calls_by_status_and_type
    from quarry.engine.engine import APPLICATION_VERSION
    from quarry.engine.upgrades import DrainWatch, begin_drain, drain_started, workflows_in_flight

    settings, db, _ = _open()
    since = begin_drain(db)
    console.print(f"Draining since {since:%Y-%m-%d %H:%M:%S} UTC: new calls are refused.")
    time.sleep(DrainWatch.SECONDS + 1)  # API processes see it; calls they accepted just before are enqueued

    def in_flight() -> int:
        """Workflows of this version still waiting or running, and calls not enqueued yet (a
        submission that passed the check before the drain, still storing its files)."""
        with db.read() as session:
            pending = sum(n for status, _, n in calls_by_status_and_type(session) if status == "pending")
        return workflows_in_flight(settings).get(APPLICATION_VERSION, 0) + pending

    deadline = None if timeout is None else time.monotonic() + timeout
    shown = None
    while left := in_flight():
        if drain_started(db) is None:
            raise Failure("the drain ended meanwhile (a `quarry serve` started): run `quarry drain` again")
        if left != shown:
            console.print(f"{left} calls and workflows in flight…")
            shown = left
        if deadline is not None and time.monotonic() >= deadline:
            raise Failure(f"{left} calls and workflows still in flight after {timeout:g} s; new calls stay refused")
        time.sleep(0.5)
    console.print("Drained: nothing is in flight. Stop every process, upgrade, then start the new version.")


def backup(path: Path = typer.Argument(..., help="A new (or empty) directory to write the backup to.")) -> None:
    """Back up the embedded deployment (SQLite databases and files), consistent while it serves."""
    from quarry.engine.backup import BackupError
    from quarry.engine.backup import backup as back_up

    settings = Settings.from_env()
    try:
        manifest = back_up(settings, path)
    except BackupError as exc:
        raise Failure(str(exc)) from None
    files = "files in the bucket not copied" if manifest["filesInBucket"] else f"{manifest['files']} files"
    console.print(f"Backed up {manifest['calls']} calls and {files} to {path}.")


def restore(
    path: Path = typer.Argument(..., help="A directory `quarry backup` wrote."),
    replace: bool = typer.Option(False, "--replace", help="Put the backup in place of existing data."),
) -> None:
    """Restore a backup into QUARRY_DATA_DIR (every Quarry process stopped); then start `quarry serve`."""
    from quarry.engine.backup import BackupError
    from quarry.engine.backup import restore as put_back

    settings = Settings.from_env()
    try:
        manifest = put_back(settings, path, replace)
    except BackupError as exc:
        raise Failure(str(exc)) from None
    taken, calls = manifest["createdAt"], manifest["calls"]
    console.print(f"Restored the backup of {taken} ({calls} calls) into {settings.data_dir}.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (the server also does this when it starts)."""
    settings, _, _ = _open(create=True)
    console.print(f"Database {preflight.database_location(settings)} is up to date.")
