"""Run one shell command as its own process group, with a timeout and bounded output capture.

Knows nothing about jobs or storage. Guarantees, whatever happens (exit, timeout, cancel):
the shell is reaped, no process is left in its process group, the pipes and the transport
are closed, and the call returns in bounded time once the shell has exited -- even when a
process that left the group (`setsid`, a daemon) keeps the output pipes open.
"""

import asyncio
import contextlib
import errno
import os
import shlex
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from subprocess import PIPE
from typing import TypeVar

from .jobs import RunResult
from .procgroups import clear_group
from .timeutil import now_ms

T = TypeVar("T")

PIPE_DRAIN_S = 0.5  # once the group is gone, how long an escaped (setsid) process may hold our pipes
# Linux refuses a single argv string over MAX_ARG_STRLEN (128 KiB) with E2BIG: longer commands
# are written to a private (0600) temporary script that the shell reads instead.
INLINE_COMMAND_LIMIT = 64 * 1024
# A spawn failing with one of these says the worker (its limits, the machine) cannot start a
# process right now -- not that the job is wrong; a missing cwd or an unexecutable command is.
WORKER_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})


class NotStarted(Exception):
    """The command was not started, for a reason that belongs to the worker (WORKER_ERRNOS):
    no process of it ever ran, so the attempt may be handed back uncharged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
TIMED_OUT, ABORTED = "timed out", "aborted"  # how _wait saw an attempt end, when not by itself
CANCELLED = "cancelled"  # the error of an attempt stopped through `abort`


class Capture:
    """Keeps the first and last limit/2 bytes of a stream and counts what fell between."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.notes: list[str] = []
        self._sent = 0  # stream position up to which unsent() has handed bytes out

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

    def note(self, text: str) -> None:
        """A remark from queuectl itself, appended after the captured bytes."""
        self.notes.append(text)

    @property
    def total(self) -> int:
        """Bytes fed so far (kept or dropped)."""
        return len(self.head) + self.dropped + len(self.tail)

    def unsent(self) -> list[tuple[int, bytes]]:
        """(stream position, bytes) of what arrived since the last call, within the bound:
        what fell out of the tail meanwhile is skipped (the positions show the gap). Streaming
        reads the kept bytes themselves, so it costs no second buffer."""
        pieces = []
        if self._sent < len(self.head):
            pieces.append((self._sent, bytes(self.head[self._sent:])))
        tail_at = len(self.head) + self.dropped
        start = max(self._sent, tail_at)
        if start < self.total:
            pieces.append((start, bytes(self.tail[start - tail_at:])))
        self._sent = self.total
        return pieces

    def value(self) -> bytes:
        if not self.dropped:
            body = bytes(self.head + self.tail)
        else:
            marker = f"\n[queuectl: {self.dropped} bytes truncated]\n".encode()
            body = bytes(self.head) + marker + bytes(self.tail)
        for text in self.notes:
            body += f"\n[queuectl: {text}]\n".encode()
        return body


class _JobProtocol(asyncio.SubprocessProtocol):
    """Feeds both pipes straight into their captures; tells the shell's exit from pipe EOF.

    asyncio's Process.wait() (3.11) resolves only once every pipe is closed, so a daemon that
    escaped the group with our stdout would hold the attempt open; we watch the exit itself."""

    def __init__(self, loop: asyncio.AbstractEventLoop, out: Capture, err: Capture) -> None:
        self.captures = {1: out, 2: err}
        self.exited = loop.create_future()
        self.pipes_closed = loop.create_future()
        self._open = {1, 2}

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.captures[fd].feed(data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self._open.discard(fd)
        if not self._open and not self.pipes_closed.done():
            self.pipes_closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


async def run_command(
    command: str,
    *,
    timeout: float | None,
    output_limit: int,
    kill_grace: float,
    on_spawn: Callable[[int], None] | None = None,
    env_update: Mapping[str, str] | None = None,
    cwd: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    captures: tuple[Capture, Capture] | None = None,
    abort: asyncio.Future | None = None,
) -> RunResult:
    """Run `command` through /bin/sh; a timeout or a cancel kills the whole process group.

    The attempt lasts until the shell exits (or its timeout). Whatever the shell leaves in its
    group is then killed (TERM, `kill_grace`, KILL); output still buffered in the pipes is read.
    A process that left the group (setsid) is out of reach: if it still holds the pipes after
    PIPE_DRAIN_S, queuectl stops reading, closes its ends and says so in the captured stderr.
    `env_update` is added to the command's environment (and stays in this process's: it is
    meant for values every job overwrites, like the job id); `extra_env` is added to this
    command's alone. `cwd`: where it runs (None: here); a missing one fails the attempt with
    `cwd not found: PATH` before anything is spawned. `captures` (stdout, stderr) lets the
    caller read the output while it runs (else two Capture(output_limit) are made). When
    `abort` resolves, the group is stopped like a timed-out one and the attempt ends with the
    error `cancelled` and the output captured so far. Raises NotStarted when no process could
    be started for a reason of the worker's (out of descriptors, processes or memory).
    """
    started, t0 = now_ms(), time.monotonic()
    if cwd is not None and not os.path.isdir(cwd):
        return RunResult(None, f"cwd not found: {cwd}", started, now_ms(), _since(t0))
    out, err = captures or (Capture(output_limit), Capture(output_limit))
    script = None
    try:
        try:
            # Linux refuses one argv string over 128 KiB: a longer command runs from a 0600 script.
            if len(command.encode()) > INLINE_COMMAND_LIMIT:
                script = _script_for(command)
            transport, proto = await _spawn(
                f"exec /bin/sh {shlex.quote(script)}" if script else command, out, err, kill_grace,
                env_update or {}, _spawn_options(cwd, extra_env, env_update))
        except OSError as exc:
            if exc.errno in WORKER_ERRNOS:  # nothing ran: the worker's problem, not the job's
                raise NotStarted(exc.strerror or str(exc)) from exc
            why = (f"cwd not found: {cwd}" if cwd is not None and not os.path.isdir(cwd)
                   else f"could not start: {exc.strerror or exc}")  # the folder went meanwhile
            return RunResult(None, why, started, now_ms(), _since(t0))
        ended_by = await _supervise(transport, proto, timeout, kill_grace, err, on_spawn, abort)
    finally:
        if script:
            with contextlib.suppress(OSError):
                os.unlink(script)
    if ended_by == ABORTED:
        exit_code, error = None, CANCELLED
    else:
        exit_code, error = describe_exit(transport.get_returncode(),
                                         timeout if ended_by == TIMED_OUT else None)
    return RunResult(exit_code, error, started, now_ms(), _since(t0), out.value(), err.value())


def _spawn_options(cwd: str | None, extra_env: Mapping[str, str] | None,
                   env_update: Mapping[str, str] | None) -> dict:
    """Popen's cwd/env only when a job asks: env= copies the whole environment (~5 % of P1),
    so only a job with its own variables pays for it; the tags in env_update still win."""
    options: dict = {} if cwd is None else {"cwd": cwd}
    if extra_env:
        options["env"] = {**os.environ, **extra_env, **(env_update or {})}
    return options


async def _spawn(shell_command: str, out: Capture, err: Capture, kill_grace: float,
                 env_update: Mapping[str, str], options: dict):
    """(transport, protocol) of the shell, in a new session and process group.

    loop.subprocess_shell is what asyncio.create_subprocess_shell wraps; our protocol replaces
    its StreamReaders (see _JobProtocol). The spawn is shielded: a cancel landing while asyncio
    still connects the pipes would make asyncio kill only the shell, then wait for pipes the
    job's children hold. Cancelled, we let the spawn complete and kill the whole group."""
    loop = asyncio.get_running_loop()
    spawn = asyncio.ensure_future(_fork_with(env_update, loop.subprocess_shell(
        lambda: _JobProtocol(loop, out, err), shell_command,
        stdin=_devnull(), stdout=PIPE, stderr=PIPE, start_new_session=True, **options,
    )))
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        await _reap_cancelled_spawn(spawn, kill_grace)
        raise


_DEVNULL: list[int] = []


def _devnull() -> int:
    """One /dev/null descriptor for every job's stdin (subprocess.DEVNULL opens and closes one
    per spawn: two system calls in the loop's busiest path at a thousand slots)."""
    if not _DEVNULL:
        _DEVNULL.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
    return _DEVNULL[0]


async def _fork_with(env_update: Mapping[str, str], spawning: Awaitable[T]) -> T:
    """Run the spawn with env_update in this process's environment. loop.subprocess_shell forks
    before its first suspension, i.e. within this task step, so no other spawn can interleave;
    and unlike Popen's env= it builds no copy of the environment per job (~5 % of P1)."""
    os.environ.update(env_update)
    return await spawning


async def _supervise(transport: asyncio.SubprocessTransport, proto: "_JobProtocol",
                     timeout: float | None, kill_grace: float, err: Capture,
                     on_spawn: Callable[[int], None] | None,
                     abort: asyncio.Future | None) -> str | None:
    """Wait for the shell (TIMED_OUT, ABORTED or None), clear its group, drain the pipes.
    Cancelled (hard stop) or failing, kill the group first: no process of the job outlives
    the call."""
    pid = transport.get_pid()
    try:
        if on_spawn is not None:
            on_spawn(pid)
        ended_by = await _wait(proto, pid, timeout, kill_grace, abort)
        await clear_group(pid, kill_grace)
        await _drain_pipes(proto, transport, err)
        return ended_by
    except BaseException:
        await to_the_end(_kill_group(proto, transport, kill_grace))
        raise
    finally:
        transport.close()


async def _reap_cancelled_spawn(spawn: asyncio.Future, grace: float) -> None:
    """Cancelled during the spawn: let it complete, then kill the whole group it started."""
    while not spawn.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(spawn)
    if spawn.cancelled() or spawn.exception() is not None:
        return
    transport, proto = spawn.result()
    await to_the_end(_kill_group(proto, transport, grace))


async def to_the_end(work: Awaitable[T]) -> T:
    """Await `work` to its end however often the caller is cancelled meanwhile, then re-raise
    the cancel. A bare shield returns at the first cancel while the work goes on unawaited --
    and the loop may close before a group kill has sent its SIGKILL."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


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


def _script_for(command: str) -> str:
    fd, path = tempfile.mkstemp(prefix="queuectl-job-", suffix=".sh")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(command)
        f.write("\n")
    return path


async def _wait(proto: _JobProtocol, pid: int, timeout: float | None, grace: float,
                abort: asyncio.Future | None) -> str | None:
    """Wait for the shell to exit. When the timeout expires (TIMED_OUT) or `abort` resolves
    first (ABORTED), the group is killed: TERM, `grace`, KILL."""
    try:
        async with asyncio.timeout(timeout):
            if abort is None:
                await asyncio.shield(proto.exited)
                return None
            await asyncio.wait([proto.exited, abort], return_when=asyncio.FIRST_COMPLETED)
            if proto.exited.done():  # an exit that raced the abort wins: the job finished
                return None
        ended_by = ABORTED
    except TimeoutError:
        ended_by = TIMED_OUT
    await clear_group(pid, grace, force=True)
    await proto.exited  # KILL reached the shell: it is the group leader
    return ended_by


async def _drain_pipes(proto: _JobProtocol, transport: asyncio.SubprocessTransport,
                       err: Capture) -> None:
    """The group is gone: what is left in the pipes arrives at once, unless an escaped
    process still holds them open. Then stop reading instead of waiting for it."""
    if proto.pipes_closed.done():  # the common case: no timer, no shield
        return
    try:
        await asyncio.wait_for(asyncio.shield(proto.pipes_closed), PIPE_DRAIN_S)
    except TimeoutError:
        err.note("stopped reading output: a process that left the job's process group "
                 "(setsid/daemon) still holds the pipes")
        transport.close()


async def _kill_group(proto: _JobProtocol, transport: asyncio.SubprocessTransport,
                      grace: float) -> None:
    """TERM the group, give it `grace` seconds, KILL what is left, reap the shell."""
    pid = transport.get_pid()
    await clear_group(pid, grace, force=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proto.exited), PIPE_DRAIN_S)
    transport.close()


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"SIG{sig}"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _since(t0: float) -> float:
    return round(time.monotonic() - t0, 6)
