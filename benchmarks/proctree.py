"""Reading this machine's process tree and memory from /proc, for the benchmarks' samplers."""

from __future__ import annotations

import os


def children() -> dict[int, list[int]]:
    """Parent pid -> its child pids, for every process now."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    tree, found, pending = children(), [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += tree.get(pid, [])
    return found


def memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of ``pid`` in bytes; zeros once it is gone."""
    values = {"Rss:": 0, "Pss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                key, *rest = line.split()
                if key in values:
                    values[key] = int(rest[0]) * 1024
    except (OSError, ValueError):
        pass
    return values["Rss:"], values["Pss:"]


def cmdline(pid: int) -> str:
    """The process's command line, spaces between arguments ('' once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
