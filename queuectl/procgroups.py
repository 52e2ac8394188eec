"""Process groups of jobs: asking them to end (TERM, grace, KILL), waiting until they have, and
finding a dead worker's orphaned groups by the environment every job inherits.

Split from runner.py, which starts and watches one command; the engine's rescuer uses the
tag-based kill directly."""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Collection, Sequence

GROUP_POLL_S = 0.02
KILL_WAIT_S = 2.0  # after SIGKILL, how long to wait for the group to be gone (it is, in ms)
KILL_POLL_S = 0.005


async def clear_group(pgid: int, grace: float, *, force: bool = False) -> None:
    if not force and not group_alive(pgid):
        return
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_alive(pgid):
        await asyncio.sleep(GROUP_POLL_S)
    signal_group(pgid, signal.SIGKILL)
    await until_gone({pgid})


async def until_gone(groups: set[int], within: float = KILL_WAIT_S) -> set[int]:
    """Wait until no member of `groups` is alive (or `within` passes); returns those left. A
    SIGKILLed process runs until the kernel schedules its exit: under load, milliseconds after
    the signal -- time enough for a rerun to start beside it, or for the worker to exit first."""
    deadline = time.monotonic() + within
    groups = {pgid for pgid in groups if group_alive(pgid)}
    while groups and time.monotonic() < deadline:
        await asyncio.sleep(KILL_POLL_S)
        groups = {pgid for pgid in groups if group_alive(pgid)}
    return groups


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Is any process of the group still running? Zombies awaiting their reaper do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _live_member_in_proc(pgid) if os.path.isdir("/proc/self") else True


async def end_tagged_groups(names: Sequence[str], wanted: Collection[tuple[str, ...]]) -> int:
    """SIGKILL the process group of every process whose environment gives the variables
    `names` one of the `wanted` value tuples, then wait until those groups are gone
    (until_gone: the rescuer must not requeue a job whose orphan still runs); returns how many
    groups. The environment is what a process inherited at exec, so it finds a dead worker's
    job even when nothing recorded its pid, and never a stranger that reused one. (A job that
    empties its environment, `env -i`, is out of reach, like one that leaves its group.)"""
    groups = _kill_tagged(names, wanted)
    await until_gone(groups)
    return len(groups)


def _kill_tagged(names: Sequence[str], wanted: Collection[tuple[str, ...]]) -> set[int]:
    if not wanted or not os.path.isdir("/proc"):
        return set()
    prefixes = [f"{name}=".encode() for name in names]
    targets = {tuple(value.encode() for value in values) for values in wanted}
    groups = set()
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit() and _environ_values(entry.name, prefixes) in targets:
                with contextlib.suppress(OSError):
                    groups.add(os.getpgid(int(entry.name)))
    groups.discard(os.getpgid(0))  # never our own group
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)
    return groups


def _environ_values(pid: str, prefixes: list[bytes]) -> tuple[bytes | None, ...]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return ()
    return tuple(next((e[len(p):] for e in env if e.startswith(p)), None) for p in prefixes)


def _live_member_in_proc(pgid: int) -> bool:
    with os.scandir("/proc") as entries:  # closed on the early return too (no ResourceWarning)
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                return True
    return False
