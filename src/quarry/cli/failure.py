"""How a command that cannot do its job ends: one line on stderr and exit status 2, no traceback."""

from __future__ import annotations

EXIT_FAILURE = 2
"""The command could not do its job (an API error, an unreachable server, a missing key or database)."""
EXIT_CALLS_FAILED = 1
"""The command did its job, but some of the calls it followed failed."""


class Failure(Exception):
    """Raised by a command with the one line that explains what went wrong and what to do."""
