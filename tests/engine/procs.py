"""Process helpers for the engine and runner tests: zombies count as dead."""

import asyncio
import os
import time
from pathlib import Path


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in (b"Z", b"X")


def group_alive(pgid: int) -> bool:
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                    return True
    return False


async def wait_for_pid(path: Path, timeout: float = 10.0) -> int:
    """The pid a command wrote to `path` (polled with a deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text.endswith("\n") or text.isdigit():
            return int(text)
        await asyncio.sleep(0.01)
    raise AssertionError(f"no pid in {path} within {timeout}s")


async def wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True
