"""``python -m tests.crash_after_commit serve …``: ``quarry`` that dies by SIGKILL right after
committing a transaction that recorded an ``Idempotency-Key`` starting with ``crash-``.

The kill lands between the commit and the HTTP response (and before a call is handed to the
engine), the window a retry must survive. Only this wrapper changes the server: the production
code has no hook for it.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from quarry.api.idempotency import IdempotencyKey

_respond = IdempotencyKey.respond


def _respond_then_die_at_commit(self: IdempotencyKey, session: Session, result: Any) -> Any:
    answer = _respond(self, session, result)
    if self.key is not None and self.key.startswith("crash-"):
        sa.event.listen(session, "after_commit", lambda _session: os.kill(os.getpid(), signal.SIGKILL))
    return answer


IdempotencyKey.respond = _respond_then_die_at_commit  # type: ignore[method-assign]

if __name__ == "__main__":
    from quarry.cli import main

    main()
