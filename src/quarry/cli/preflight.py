"""What the admin commands check before they create anything: a misconfiguration ends them in one
line naming the setting to fix (``Failure``), never with a traceback after half a start — a schema
made, a first API key printed once and lost, a data directory on the wrong disk. Once fixed, the
next start is a first start again."""

from __future__ import annotations

import errno
import socket

import sqlalchemy as sa
import sqlalchemy.exc

from quarry.cli.failure import Failure
from quarry.config import Settings
from quarry.storage.blobs import BlobStore, BlobStoreUnavailable, open_blob_store
from quarry.storage.db import has_schema, sqlalchemy_url

_UNSUPPORTED = (
    "QUARRY_DATABASE_URL is not a database Quarry runs on: use postgresql://user@host:5432/db,"
    " or leave it unset for SQLite in QUARRY_DATA_DIR"
)


def database_location(settings: Settings) -> str:
    """The database as an operator wrote it, without a password."""
    try:
        url = sa.engine.make_url(sqlalchemy_url(settings.database_url))
    except sqlalchemy.exc.ArgumentError:
        raise Failure(_UNSUPPORTED) from None
    if url.drivername.startswith("sqlite"):
        return str(url.database)
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def data_location(settings: Settings) -> str:
    """Where this deployment's data really lives, for the start banner."""
    files = settings.blob_url or str(settings.data_dir / "blobs")
    return f"database {database_location(settings)}, files in {files}"


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """The server's sockets, one per address ``host`` names (``localhost``: IPv4 and IPv6; ``""``:
    every interface, as asyncio reads it), bound before anything else is done: a port in use is
    found out first."""
    try:
        addresses = {
            (family, kind, protocol, address)
            for family, kind, protocol, _, address in socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
        }
    except socket.gaierror as exc:
        raise Failure(f"cannot listen on {host}: {exc.strerror}: give --host an address of this machine") from None
    sockets: list[socket.socket] = []
    for family, kind, protocol, address in sorted(addresses, key=lambda a: a[0]):
        sock = socket.socket(family, kind, protocol)
        sockets.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # its IPv4 twin is bound apart
        try:
            sock.bind(address)
        except OSError as exc:
            for bound in sockets:
                bound.close()
            reason = {errno.EADDRINUSE: "the port is in use", errno.EACCES: "permission denied"}.get(
                exc.errno or 0, exc.strerror
            )
            raise Failure(
                f"cannot listen on {host}:{port}: {reason}: stop what listens there or choose another port"
                " with --port (make serve PORT=…)"
            ) from None
    return sockets


def database_exists(settings: Settings) -> bool:
    """Whether Quarry's schema is there, creating nothing; ``Failure`` when the database cannot be
    reached."""
    where = database_location(settings)
    try:
        return has_schema(settings.database_url)
    except sqlalchemy.exc.DBAPIError as exc:
        raise Failure(f"cannot open the database {where}: {_first_line(exc)}: check QUARRY_DATABASE_URL") from None
    except (sqlalchemy.exc.NoSuchModuleError, ImportError):  # mysql://… and the like
        raise Failure(_UNSUPPORTED) from None
    except OSError as exc:  # SQLite: a data directory out of reach
        raise not_writable(exc, "QUARRY_DATA_DIR (or QUARRY_DATABASE_URL)") from None


def blob_store(settings: Settings) -> BlobStore:
    """The blob store, checked (an S3 bucket must exist and let Quarry in)."""
    try:
        return open_blob_store(settings)
    except BlobStoreUnavailable as exc:
        raise Failure(f"{exc}: check QUARRY_BLOB_URL, AWS_ENDPOINT_URL and the AWS credentials") from None
    except ValueError as exc:
        raise Failure(str(exc)) from None
    except OSError as exc:
        raise not_writable(exc, "QUARRY_DATA_DIR (or QUARRY_BLOB_URL)") from None


def not_writable(exc: OSError, setting: str) -> Failure:
    """A directory Quarry keeps its data in cannot be made."""
    return Failure(f"cannot use {exc.filename}: {exc.strerror}: set {setting} to a writable place")


def set_up_failed(settings: Settings, exc: sqlalchemy.exc.DBAPIError) -> Failure:
    """Migrating a reachable database failed (e.g. no privilege to create an extension)."""
    return Failure(f"cannot set up the database {database_location(settings)}: {_first_line(exc)}")


def _first_line(exc: sqlalchemy.exc.DBAPIError) -> str:
    return (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]


def no_foreign_work(settings: Settings) -> None:
    """Refuse to start while workflows of another engine version are in flight: this version
    could never finish them (``engine.upgrades``)."""
    from quarry.engine.upgrades import foreign_work

    if foreign := foreign_work(settings):
        listed = ", ".join(f"{count} of {version or 'an unknown version'}" for version, count in foreign.items())
        raise Failure(
            f"workflows of another engine version are in flight ({listed}): start the Quarry version that"
            " started them, run `quarry drain` with it, then start this one"
        )
