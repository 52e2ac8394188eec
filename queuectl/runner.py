"""Run one shell command as its own process group, with a timeout and bounded output capture.

Knows nothing about jobs or storage. Guarantees, whatever happens (exit, timeout, cancel):
the shell is reaped, and no process is left in its process group when run_command returns.
"""

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from subprocess import DEVNULL, PIPE

from .jobs import RunResult
from .timeutil import now_ms

READ_CHUNK = 65536
PIPE_DRAIN_S = 0.5  # after a kill, how long an escaped (setsid) daemon may hold our pipes
GROUP_POLL_S = 0.02


class Capture:
    """Keeps the first and last limit/2 bytes of a stream and counts what fell between."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail += chunk
        excess = len(self.tail) - self.tail_limit
        if excess > 0:
            del self.tail[:excess]  # bytearray drops a prefix in O(1) amortised
            self.dropped += excess

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.head + self.tail)
        marker = f"\n[queuectl: {self.dropped} bytes truncated]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail)


async def run_command(
    command: str,
    *,
    timeout: float | None,
    output_limit: int,
    kill_grace: float,
    on_spawn: Callable[[int], None] | None = None,
) -> RunResult:
    """Run `command` through /bin/sh; a timeout or a cancel kills the whole process group.

    Like subprocess.run with captured output, an attempt lasts until the shell has exited and
    its output pipes are closed: a background child that keeps stdout open keeps the attempt
    running (up to its timeout). Whatever the shell leaves in its group afterwards is killed.
    """
    started, t0 = now_ms(), time.monotonic()
    try:
        proc = await asyncio.create_subprocess_shell(
            command, stdin=DEVNULL, stdout=PIPE, stderr=PIPE, start_new_session=True
        )
    except OSError as exc:
        return RunResult(None, f"could not start: {exc.strerror or exc}", started, now_ms(),
                         _since(t0))
    if on_spawn is not None:
        on_spawn(proc.pid)
    out, err = Capture(output_limit), Capture(output_limit)
    pumps = asyncio.gather(_pump(proc.stdout, out), _pump(proc.stderr, err))
    try:
        timed_out = await _wait(proc, timeout, kill_grace)
        await _clear_group(proc.pid, kill_grace)
        await pumps
    except BaseException:  # cancelled (hard stop) or failing: never leave the group behind
        pumps.cancel()
        await asyncio.shield(_kill_group(proc, kill_grace))
        raise
    exit_code, error = describe_exit(proc.returncode, timeout if timed_out else None)
    return RunResult(exit_code, error, started, now_ms(), _since(t0), out.value(), err.value())


def describe_exit(returncode: int | None, timed_out_after: float | None):
    """(exit_code, error) for a finished shell; error is None exactly on success."""
    if timed_out_after is not None:
        return None, f"timed out after {_seconds(timed_out_after)}s"
    if returncode is None:
        return None, "no exit status"
    if returncode < 0:
        sig = -returncode
        return 128 + sig, f"killed by signal {sig} ({_signal_name(sig)})"
    if returncode == 0:
        return 0, None
    if returncode == 127:
        return 127, "exit code 127 (command not found)"
    return returncode, f"exit code {returncode}"


async def _wait(proc: asyncio.subprocess.Process, timeout: float | None, grace: float) -> bool:
    """True when the timeout expired (the group has then been killed)."""
    try:
        async with asyncio.timeout(timeout):
            await proc.wait()
        return False
    except TimeoutError:
        await _kill_group(proc, grace)
        return True


async def _kill_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    """TERM the group, give it `grace` seconds, KILL what is left, reap the shell."""
    await _clear_group(proc.pid, grace, force=True)
    try:
        await asyncio.wait_for(asyncio.shield(proc.wait()), PIPE_DRAIN_S)
    except TimeoutError:
        # A process that escaped the group (setsid) still holds our pipes: close our ends.
        proc._transport.close()  # noqa: SLF001 - asyncio.Process has no public close()
        await proc.wait()


async def _clear_group(pgid: int, grace: float, *, force: bool = False) -> None:
    if not force and not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _group_alive(pgid):
        await asyncio.sleep(GROUP_POLL_S)
    _signal_group(pgid, signal.SIGKILL)


async def _pump(stream: asyncio.StreamReader, capture: Capture) -> None:
    while chunk := await stream.read(READ_CHUNK):
        capture.feed(chunk)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Is any process of the group still running? Zombies awaiting their reaper do not count."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _live_member_in_proc(pgid) if os.path.isdir("/proc/self") else True


def _live_member_in_proc(pgid: int) -> bool:
    for entry in os.scandir("/proc"):
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


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 6)
