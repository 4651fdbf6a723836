"""Backups of the embedded deployment: its two SQLite databases and its files, taken while it serves.

Each database is copied with SQLite's online backup (a consistent snapshot; writers go on), in an
order that keeps the copy consistent as a whole: the engine's database (``engine.sqlite``: DBOS's
queues and workflow records) first, then Quarry's, then the files. So a call in the copy is never
behind its engine record — a workflow recorded as finished for a call that Quarry's copy shows
running would strand it — only ahead of it, which the next start resumes: a workflow still in
flight is recovered, a call with none is swept (pending: enqueued; running without a record: run
again from where Quarry's tables say it is). Every file a copied row names is there, since files
are written before the rows that name them; a file written after the snapshot is copied too,
unnamed and harmless, and one that retention removes during the copy is left out with its call.

A PostgreSQL deployment is backed up with PostgreSQL's own tools and its bucket with the store's
(docs/operations.md); files in an S3 bucket are not copied.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa

from quarry import __version__
from quarry.config import Settings
from quarry.engine.executors import pid_alive
from quarry.storage.base import utcnow

MANIFEST = "quarry-backup.json"
ENGINE_DB = "engine.sqlite"
QUARRY_DB = "quarry.db"
BLOBS = "blobs"
RUNNING_SECONDS = 30  # a process whose heartbeat is this recent may still be serving the data


class BackupError(Exception):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Places:
    """Where an embedded deployment keeps its data."""

    quarry_db: Path
    engine_db: Path
    blobs: Path | None  # None: files in a bucket, not copied

    @classmethod
    def of(cls, settings: Settings) -> Places:
        if not settings.is_embedded:
            raise BackupError(
                "this deployment runs on PostgreSQL: back it up with pg_dump and its bucket with the store's"
                " own tools (docs/operations.md)"
            )
        quarry_db = Path(sa.engine.make_url(settings.database_url).database or "")
        blobs: Path | None = settings.data_dir / BLOBS
        if settings.blob_url:
            parts = urlsplit(settings.blob_url)
            blobs = Path(unquote(parts.path)) if parts.scheme == "file" else None
        return cls(quarry_db, settings.data_dir / ENGINE_DB, blobs)


def backup(settings: Settings, target: Path) -> dict[str, object]:
    """Copy the deployment into ``target`` (a new or empty directory); its manifest."""
    places = Places.of(settings)
    if not places.quarry_db.is_file():
        raise BackupError(f"there is no Quarry database at {places.quarry_db}: nothing to back up")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    target.mkdir(parents=True, exist_ok=True)
    if places.engine_db.is_file():
        _copy_database(places.engine_db, target / ENGINE_DB)
    _copy_database(places.quarry_db, target / QUARRY_DB)
    files = 0
    if places.blobs is not None and places.blobs.is_dir():
        shutil.copytree(places.blobs, target / BLOBS, ignore=shutil.ignore_patterns(".tmp-*"), copy_function=_copy_file)
        files = sum(1 for path in (target / BLOBS).rglob("*") if path.is_file())
    manifest: dict[str, object] = {
        "createdAt": utcnow().isoformat(),
        "quarryVersion": __version__,
        "calls": _count_calls(target / QUARRY_DB),
        "files": files,
        "filesInBucket": places.blobs is None,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def restore(settings: Settings, source: Path, replace: bool = False) -> dict[str, object]:
    """Put the backup in ``source`` in place of the deployment's data (none there, or ``replace``);
    its manifest. Refused while a process serves the data."""
    places = Places.of(settings)
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{source} is not a Quarry backup (no readable {MANIFEST})") from None
    if not (source / QUARRY_DB).is_file():
        raise BackupError(f"{source} holds no {QUARRY_DB}: an incomplete backup is not restored")
    if places.quarry_db.is_file():
        if _recently_running(places.quarry_db):
            raise BackupError("a Quarry process is serving this data: stop every process before restoring")
        if not replace:
            raise BackupError(f"{places.quarry_db} exists: restore with --replace to put the backup in its place")
    # copied beside their places first: a copy that fails (a full disk) leaves the old data as it was
    copies = []
    for database, name in ((places.engine_db, ENGINE_DB), (places.quarry_db, QUARRY_DB)):
        if (source / name).is_file():
            database.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, database.with_name(database.name + ".restoring"))
            copies.append(database)
    files = None
    if places.blobs is not None:
        files = places.blobs.with_name(places.blobs.name + ".restoring")
        shutil.rmtree(files, ignore_errors=True)
        if (source / BLOBS).is_dir():
            shutil.copytree(source / BLOBS, files)
        else:
            files.mkdir(parents=True)
    for database in (places.engine_db, places.quarry_db):
        for stale in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
            stale.unlink(missing_ok=True)  # a write-ahead log of the old database would be replayed into the new
    for database in copies:
        os.replace(database.with_name(database.name + ".restoring"), database)
    if places.blobs is not None and files is not None:
        shutil.rmtree(places.blobs, ignore_errors=True)
        os.replace(files, places.blobs)
    return manifest


def _copy_file(source: str, target: str) -> None:
    """A file removed meanwhile (retention, as the copy runs) is left out: its call is being removed too."""
    try:
        shutil.copy2(source, target)
    except FileNotFoundError:
        pass


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent snapshot while other processes write."""
    with sqlite3.connect(source, timeout=60) as origin, sqlite3.connect(target) as copy:
        origin.backup(copy)
    origin.close()
    copy.close()


def _count_calls(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        count = connection.execute("SELECT count(*) FROM calls").fetchone()[0]
    connection.close()
    return int(count)


def _recently_running(database: Path) -> bool:
    """Whether a process may be serving this database: it beat lately, and it is not one of this
    machine's that is gone (a restored copy holds the heartbeats of the processes it was taken from)."""
    since = (utcnow() - timedelta(seconds=RUNNING_SECONDS)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(database, timeout=60) as connection:
        query = "SELECT host, pid FROM executors WHERE stopped_at IS NULL AND heartbeat_at >= ?"
        rows = connection.execute(query, (since,)).fetchall()
    connection.close()
    here = socket.gethostname()[:255]
    return any(host != here or pid_alive(pid) for host, pid in rows)
