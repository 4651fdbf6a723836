"""A process's stop, asked for by its signal handlers or its other threads, awaited by its main
thread. Imports nothing heavy: a worker installs its handlers before anything else, so that a
stop while it starts up is a stop too."""

from __future__ import annotations

import time

WAKE_SECONDS = 0.5


class StopRequest:
    """A stop asked for by signal handlers or by other threads, awaited by the main thread.

    A handler runs on the main thread between two bytecodes — also inside another handler, or
    inside a lock the main thread holds — so it must take no lock: ``threading.Event.set`` from a
    handler deadlocked a worker that got SIGTERM twice in a row (the supervisor's drain, then the
    kernel's death signal as the supervisor exits), leaving it running without a parent. Assigning
    a flag is atomic."""

    def __init__(self) -> None:
        self._asked = False

    def ask(self, *_: object) -> None:
        """Ask for the stop; usable as a signal handler."""
        self._asked = True

    @property
    def asked(self) -> bool:
        return self._asked

    def wait(self) -> None:
        """Return within ``WAKE_SECONDS`` of the stop being asked for."""
        while not self._asked:
            time.sleep(WAKE_SECONDS)
