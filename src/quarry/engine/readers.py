"""Documents read in child processes, each read bounded in memory and time.

Reading a document runs third-party parsers (PDFium, Pillow, lxml, python-docx, the OCR runtime)
on bytes anybody may have sent. In the server's own process a hostile file could take gigabytes
that the allocator never gives back, hold a core for minutes or crash the interpreter. Here each
read happens in a worker process that:

- has its data segment capped (``RLIMIT_DATA``: heap and anonymous mappings; over it, allocation
  fails and the read fails with a ``MemoryError`` named in the error);
- is killed when a read outlives the time limit, or dies with its parent;
- exits once it has grown past ``RECYCLE_RSS_BYTES`` or sat idle for ``IDLE_SECONDS``, so that the
  memory a large document took is returned to the operating system.

Workers fork from a ``forkserver`` that imported the readers once, so a new one costs milliseconds.
A failure of the worker itself (killed, crashed) is reported as a ``DocumentError``: the function
call fails with a clear message and the next document gets a fresh worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import threading
from dataclasses import dataclass
from typing import Any

from quarry import tracing
from quarry.config import Settings
from quarry.documents.model import Document, DocumentError
from quarry.metrics import DOCUMENT_PAGES, DOCUMENT_READS, OCR_PAGES, READER_RESTARTS

log = logging.getLogger("quarry.documents")

MB = 1024 * 1024
IDLE_SECONDS = 5.0
RECYCLE_RSS_BYTES = 768 * MB  # the OCR runtime alone keeps ~300 MB once loaded
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ParseLimits:
    memory_bytes: int
    timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseLimits:
        return cls(settings.parse_memory_mb * MB, settings.parse_timeout_seconds)


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _serve(connection: multiprocessing.connection.Connection, settings: Settings, memory_bytes: int) -> None:
    """A worker's life: read documents sent over ``connection`` until idle, bloated or orphaned."""
    from quarry.documents.parse import parse
    from quarry.providers.transcription import Transcriber

    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    transcribe = Transcriber.from_settings(settings)
    while connection.poll(IDLE_SECONDS):
        try:
            input_type, data = connection.recv()
        except EOFError:  # the parent closed its end
            return
        exhausted = False
        try:
            outcome: tuple[str, Any] = (
                "document",
                parse(input_type, data, transcribe=transcribe, ffmpeg=settings.ffmpeg),
            )
        except DocumentError as exc:
            exhausted = "MemoryError" in str(exc)
            limit = f" (over the reader's memory limit of {memory_bytes // MB} MB, QUARRY_PARSE_MEMORY_MB)"
            outcome = ("error", str(exc) + (limit if exhausted else ""))
        except Exception as exc:  # a provider's error while transcribing an attachment
            outcome = ("error", str(exc))
        del data
        try:
            connection.send(outcome)
        except MemoryError:
            connection.send(("error", f"the {input_type} file is too large to hand back once read"))
            exhausted = True
        if exhausted or _rss_bytes() > RECYCLE_RSS_BYTES:
            return


class _Worker:
    def __init__(self, context: Any, settings: Settings, limits: ParseLimits) -> None:
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, settings, limits.memory_bytes), name="quarry-reader", daemon=True
        )
        self.process.start()
        child_end.close()

    def usable(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()


class _Retired(Exception):
    """The worker had just ended by itself (idle or recycled) when the job reached it."""


class DocumentReaders:
    """At most ``size`` documents read at once, each by a worker process within ``limits``."""

    def __init__(self, settings: Settings, size: int | None = None) -> None:
        self.settings = settings
        self.limits = ParseLimits.from_settings(settings)
        self._slots = threading.BoundedSemaphore(max(1, size or settings.cpu_workers))
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["quarry.documents.parse", "quarry.providers.transcription"])

    def start(self) -> None:
        """Start the fork server now, so that the first document does not wait for it."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def read(self, input_type: str, data: bytes) -> Document:
        """``input_type`` data as a ``Document``; ``DocumentError`` when it cannot be read within the limits."""
        try:
            with tracing.span("quarry.document.read", {"quarry.input_type": input_type}):
                document = self._read(input_type, data)
        except DocumentError:
            DOCUMENT_READS.labels(input_type, "failed").inc()
            raise
        DOCUMENT_READS.labels(input_type, "read").inc()
        DOCUMENT_PAGES.labels(input_type).inc(len(document.pages))
        if ocr := sum(page.ocr for page in document.pages):
            OCR_PAGES.labels(input_type).inc(ocr)
        return document

    def _read(self, input_type: str, data: bytes) -> Document:
        with self._slots:
            for _attempt in range(2):
                worker = self._take()
                try:
                    document = self._run(worker, input_type, data)
                except _Retired:
                    continue
                self._give_back(worker)
                return document
            raise DocumentError(f"the {input_type} file could not be handed to a reader process")

    def close(self) -> None:
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.kill()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.usable():
                    return worker
                worker.kill()
        return _Worker(self._context, self.settings, self.limits)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def _run(self, worker: _Worker, input_type: str, data: bytes) -> Document:
        try:
            worker.connection.send((input_type, data))
            if not worker.connection.poll(self.limits.timeout_seconds):
                worker.kill()
                READER_RESTARTS.labels("time limit").inc()
                raise DocumentError(
                    f"reading the {input_type} file took longer than {self.limits.timeout_seconds:g} s "
                    "(QUARRY_PARSE_TIMEOUT_SECONDS)"
                )
            kind, value = worker.connection.recv()
        except (EOFError, OSError):
            worker.process.join(timeout=5)
            code = worker.process.exitcode
            worker.kill()
            if code == 0:
                raise _Retired() from None
            raise DocumentError(self._death(input_type, code)) from None
        if kind == "error":
            raise DocumentError(value)
        return value

    def _death(self, input_type: str, code: int | None) -> str:
        READER_RESTARTS.labels("died").inc()
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        log.warning("a reader process died on a %s file (%s)", input_type, how)
        return (
            f"the {input_type} file could not be read: the reader process died ({how}), most likely over its "
            f"memory limit of {self.limits.memory_bytes // MB} MB (QUARRY_PARSE_MEMORY_MB)"
        )
