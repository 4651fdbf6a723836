"""CPU seconds a process and everything it started have used, read from outside in ``/proc``.

A benchmark that compares CPU per call or per request reads this before and after its window and
takes the difference. It sums the whole tree (the process and every descendant alive, plus what
each has already reaped from children that exited), so the figure stays right when a process moves
its work into child processes (reader processes, a work process under ``quarry serve``).
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and
    parentheses), or None when the process has gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rindex(")") + 2 :].split()


def _children_of() -> dict[int, list[int]]:
    """Every process's children, by parent ID."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # field 4 of stat: ppid
    return children


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants alive now."""
    children = _children_of()
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children.get(pid, [])
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s tree: each live process's own (utime, stime) and its reaped
    children's (cutime, cstime). A child that exits and is reaped between two readings moves from
    the first sum to the second: nothing is counted twice or lost."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            ticks += sum(int(value) for value in fields[11:15])  # fields 14-17 of stat
    return ticks / TICKS_PER_SECOND
