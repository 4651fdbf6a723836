"""The parts of a long document, asked side by side within the deployment's model limits.

A document too long for the model's context is read in parts (``providers.llm.chunks``). The
function call that reads it holds one slot of the model queue; each of its other parts that can
go elsewhere (text only: page images stay where the document was read) is offered to the same
queue as a job of its own (``PartReading``). Every request is thus made by a workflow that holds
a slot of that queue: ``QUARRY_LLM_MAX_CONCURRENCY`` holds across the deployment, and
``QUARRY_LLM_RPM`` counts each part a helper asks.

Whoever claims a part asks it. The function call goes through its parts in order and asks each
one no helper has claimed; a helper that starts after its part was claimed (or read, or
forgotten) ends at once. So the function call waits only for parts a *running* helper is asking,
never for a free slot — its own slot may be the one the queue would need — and a full queue
cannot deadlock it: with no slot to spare, it reads every part itself, one after another, as
before. A claim older than ``stale_seconds`` (a helper that died and was not recovered yet) is
taken over.

Answers are kept in ``document_parts`` (with what each part's requests used, for the function
call's ``usage``) until the function call has all of them, so a re-run of its step after a crash
asks none twice; then they are deleted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
from dbos import DBOS, DBOSConfiguredInstance

from quarry.calls.models import DocumentPart
from quarry.engine.queues import MODEL_QUEUE, STEP_RETRIES
from quarry.engine.runtime import Runtime
from quarry.logs import about
from quarry.providers import usage
from quarry.providers.llm import Extraction, Part, ProviderError, provider_for
from quarry.storage.base import utcnow

log = logging.getLogger("quarry.calls")

PARTS_JOB = "document-parts"
"""The engine's name for asking one part: ``engine.enqueue(PARTS_JOB, part_ids)``."""
WAIT_SECONDS = (0.1, 1.0)  # how often a function call looks at parts helpers are asking: first, at most


def part_id(function_call_id: str, part: Part) -> str:
    """The same part of the same function call has the same ID in every attempt of its step."""
    digest = hashlib.sha256(json.dumps(part.wire, sort_keys=True).encode()).hexdigest()[:24]
    return f"{function_call_id}.{digest}"


def stale_seconds(runtime: Runtime) -> float:
    """How long a helper may hold a part before the function call takes it over: as long as
    every attempt of one request and of its repair round may take, and a minute's slack."""
    settings = runtime.settings
    return 2 * settings.llm_timeout_seconds * max(1, settings.llm_max_attempts) + 60


class _Claims:
    """The ``document_parts`` rows of a runtime: claimed, answered, forgotten."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.stale = timedelta(seconds=stale_seconds(runtime))

    def claim(self, pid: str, me: str) -> tuple[bool, DocumentPart | None]:
        """Claim the part for ``me`` unless it is finished or someone else's (and not stale):
        whether it is now ``me``'s to ask, and the row as it is (``None`` once it is forgotten)."""
        now = utcnow()
        with self.runtime.db.write() as session:
            claimed = session.execute(
                sa.update(DocumentPart)
                .where(
                    DocumentPart.id == pid,
                    DocumentPart.finished_at.is_(None),
                    sa.or_(
                        DocumentPart.claimed_by.is_(None),
                        DocumentPart.claimed_by == me,
                        DocumentPart.claimed_at < now - self.stale,
                    ),
                )
                .values(claimed_by=me, claimed_at=now)
            ).rowcount
            return bool(claimed), session.get(DocumentPart, pid)

    def finish(self, pid: str, answer: Extraction | None, spent: usage.Usage, error: str | None = None) -> None:
        """Record a part's answer (or why it has none); the first to finish it wins."""
        with self.runtime.db.write() as session:
            session.execute(
                sa.update(DocumentPart)
                .where(DocumentPart.id == pid, DocumentPart.finished_at.is_(None))
                .values(
                    answer=None if answer is None else {"content": answer.content, "confidences": answer.confidences},
                    spent=dataclasses.asdict(spent),
                    error=error,
                    finished_at=utcnow(),
                )
            )

    def waiting(self, pid: str) -> tuple[bool, bool] | None:
        """Whether the part is answered, and whether its claim went stale; ``None`` once it is
        forgotten. A read of two columns: a function call looks often while a helper asks."""
        with self.runtime.db.read() as session:
            row = session.execute(
                sa.select(DocumentPart.finished_at, DocumentPart.claimed_at).where(DocumentPart.id == pid)
            ).first()
        if row is None:
            return None
        finished_at, claimed_at = row
        stale = claimed_at is None or claimed_at < utcnow() - self.stale
        return finished_at is not None, stale

    def forget(self, pids: list[str]) -> None:
        with self.runtime.db.write() as session:
            session.execute(sa.delete(DocumentPart).where(DocumentPart.id.in_(pids)))


def _ask(claims: _Claims, pid: str, ask: Callable[[], Extraction]) -> Extraction:
    """Ask a part claimed here and record its answer, or why it has none; what its requests used
    is counted where this thread meters as well."""
    spent = usage.Usage()
    try:
        with usage.metering() as spent:
            answer = ask()
    except Exception as exc:
        reason = str(exc) if isinstance(exc, ProviderError) else f"internal error: {type(exc).__name__}: {exc}"
        claims.finish(pid, None, spent, reason)
        raise
    finally:
        usage.absorb(spent)
    claims.finish(pid, answer, spent)
    return answer


def _answer_of(row: DocumentPart) -> Extraction:
    """A part a helper finished: its answer (what it used counted here), or its failure raised."""
    if row.spent:
        usage.absorb(usage.Usage(**row.spent))
    if row.answer is None:
        raise ProviderError(row.error or "a part of the document could not be read")
    return Extraction(row.answer["content"], row.answer["confidences"])


class SharedParts:
    """The ``PartReader`` of one function call run by the engine (see the module's docstring)."""

    def __init__(self, runtime: Runtime, function_call_id: str, provider: str | None) -> None:
        self.runtime, self.function_call_id, self.provider = runtime, function_call_id, provider
        self.claims = _Claims(runtime)

    def read(self, parts: list[Part], ask: Callable[[Part], Extraction]) -> list[Extraction]:
        ids = [part_id(self.function_call_id, part) for part in parts]
        wanted = dict(zip(ids, parts, strict=True))  # a part twice in a document is asked once
        me = DBOS.workflow_id or self.function_call_id
        self._offer(wanted)
        try:
            answers: dict[str, Extraction] = {}
            for pid, part in wanted.items():  # in order, what no helper took
                mine, row = self.claims.claim(pid, me)
                if mine or row is None:
                    answers[pid] = _ask(self.claims, pid, partial(ask, part))
                elif row.finished_at is not None:
                    answers[pid] = _answer_of(row)
            for pid, part in wanted.items():  # then what helpers are asking
                if pid not in answers:
                    answers[pid] = self._wait(pid, part, ask, me)
        finally:  # merged by the caller, or the function call failed: nothing to ask again
            self.claims.forget(list(wanted))
        return [answers[pid] for pid in ids]

    def _offer(self, wanted: dict[str, Part]) -> None:
        """Store the parts (kept as they are from an earlier attempt) and offer to helpers those
        that can go elsewhere, but the first: this function call starts with it anyway."""
        rows = [
            {"id": pid, "function_call_id": self.function_call_id, "provider": self.provider, "part": part.wire}
            for pid, part in wanted.items()
        ]
        with self.runtime.db.write() as session:
            known = set(session.scalars(sa.select(DocumentPart.id).where(DocumentPart.id.in_(list(wanted)))))
            if fresh := [row for row in rows if row["id"] not in known]:
                session.execute(sa.insert(DocumentPart), fresh)
        self.runtime.enqueue(PARTS_JOB, [pid for pid, part in list(wanted.items())[1:] if not part.images])

    def _wait(self, pid: str, part: Part, ask: Callable[[Part], Extraction], me: str) -> Extraction:
        """The answer of a part a helper is asking; asked here if the helper went stale."""
        pause = WAIT_SECONDS[0]
        while True:
            state = self.claims.waiting(pid)
            if state is None or state[0] or state[1]:  # forgotten, answered, or stale: settle it
                mine, row = self.claims.claim(pid, me)
                if mine or row is None:
                    log.warning("function call %s: the helper asking part %s went quiet; asked here", me, pid)
                    return _ask(self.claims, pid, partial(ask, part))
                if row.finished_at is not None:
                    return _answer_of(row)
            time.sleep(pause)
            pause = min(pause * 2, WAIT_SECONDS[1])


@DBOS.dbos_class()
class PartReading(DBOSConfiguredInstance):
    """Helpers that ask one part each, on the model queue (see the module's docstring).

    The class and method names are what DBOS records to recover a workflow: keep them."""

    queue_name = MODEL_QUEUE

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.claims = _Claims(runtime)
        super().__init__("quarry-document-parts")

    @property
    def entry(self) -> Callable[[str], object]:
        return self.read_part

    @DBOS.workflow()
    def read_part(self, pid: str) -> str:
        return self.ask_part(pid)

    @DBOS.step(**STEP_RETRIES)
    def ask_part(self, pid: str) -> str:
        """Ask the part unless someone else has; whatever goes wrong ends as the part's error, so
        that the function call waiting for it fails rather than waits."""
        mine, stored = self.claims.claim(pid, pid)
        if not mine or stored is None:
            return "taken"
        part, name = Part(**stored.part), stored.provider

        def ask() -> Extraction:  # only the provider that cut the document into parts is asked for one
            return provider_for(name, self.runtime.settings).extract_part(part)  # type: ignore[attr-defined]

        try:
            with about(functionCallID=stored.function_call_id):
                _ask(self.claims, pid, ask)
        except ProviderError:
            return "failed"
        except Exception:
            log.exception("part %s failed unexpectedly", pid)
            return "failed"
        return "read"

    def sweep(self, older_than: timedelta) -> list[str]:
        return []  # a part no helper took is asked by its function call: nothing is left behind
