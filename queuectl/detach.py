"""Start a worker in the background: `worker start --detach` and the TUI's "start worker".

The worker is a separate `python -m queuectl worker start` process in its own session (no
controlling terminal, so closing the terminal or quitting the TUI does not stop it), with
stdin from /dev/null and stdout/stderr appended to a log file. The caller returns only once
the store lists the worker (so `worker list` shows it at once), or fails with the reason the
worker wrote to its log.
"""

import asyncio
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import QueuectlError, UsageError
from .store import sqlite_path
from .workers import this_host

REGISTER_TIMEOUT_S = 30.0  # a worker registers in ~0.3 s; this is for a loaded machine
POLL_S = 0.05


@dataclass(frozen=True)
class Detached:
    worker_id: str
    pid: int
    log_path: Path


def default_log_path(location: str) -> Path:
    """Beside an SQLite store (`queue.db` -> `queue.worker.log`); for a server store, under
    $XDG_STATE_HOME/queuectl/ (default ~/.local/state), one `worker.log` for every server."""
    path = sqlite_path(location)
    if path is not None:
        return path.with_name(f"{path.stem}.worker.log")
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "queuectl" / "worker.log"


async def start_detached(store: Any, location: str, *, count: int | None = None,
                         drain: bool = False, queue: str | None = None,
                         log_file: str | None = None,
                         timeout: float = REGISTER_TIMEOUT_S) -> Detached:
    """Spawn a worker on the store at `location` (already open as `store`) and wait until it
    is registered there. UsageError for a bad count, queue list or log path; QueuectlError
    (exit 1) when the worker exits or does not register in time."""
    from .settings import MAX_CONCURRENCY
    from .spec import queue_names

    if count is not None and not 1 <= count <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {count}")
    if queue is not None:
        queue_names(queue, "--queue")  # the worker would say the same, but only in its log
    log_path = _log_path(location, log_file)
    with _open_log(log_path, explicit=log_file is not None) as log:
        offset = log.tell()
        process = _spawn(location, _worker_flags(count, drain, queue), log)
    try:
        worker_id = await _registered(store, process, timeout)
    except QueuectlError as exc:
        raise QueuectlError(f"{exc}{_reason(log_path, offset)} (log: {log_path})") from None
    _reap_in_background(process)
    return Detached(worker_id, process.pid, log_path)


def _log_path(location: str, log_file: str | None) -> Path:
    if log_file is None:
        return default_log_path(location)
    if not log_file.strip():
        raise UsageError("--log-file is empty")
    return Path(log_file).expanduser().absolute()


def _open_log(path: Path, *, explicit: bool):
    """Append, never truncate: several workers may share one log. The default folder is
    created (0700, like the store's); a folder the user named must exist."""
    try:
        if not explicit:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        error = UsageError if explicit else QueuectlError
        raise error(f"cannot open log file {path}: {exc.strerror}") from None
    return os.fdopen(fd, "ab")


def _worker_flags(count: int | None, drain: bool, queue: str | None) -> list[str]:
    flags = ["--concurrency", str(count)] if count is not None else []
    flags += ["--drain"] if drain else []
    return flags + (["--queue", queue] if queue is not None else [])


def _spawn(location: str, flags: list[str], log) -> subprocess.Popen:
    # -P: a `queuectl/` folder in the current directory must not shadow the installed package
    args = [sys.executable, "-P", "-m", "queuectl", "worker", "start", *flags]
    # The store goes through the environment, not argv: a URL's password stays out of `ps`.
    env = os.environ | {"QUEUECTL_DB": location, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                            start_new_session=True, close_fds=True)


async def _registered(store: Any, process: subprocess.Popen, timeout: float) -> str:
    """The id of the worker row with this process's pid on this host, once there is one."""
    host, deadline = this_host(), time.monotonic() + timeout
    while True:
        for worker in await store.list_workers():
            if worker.pid == process.pid and worker.host == host:
                return worker.id
        code = process.poll()
        if code is not None:
            raise QueuectlError(f"the worker exited with code {code} before it registered")
        if time.monotonic() > deadline:
            process.terminate()
            _reap_in_background(process)
            raise QueuectlError(f"the worker (pid {process.pid}) did not register "
                                f"within {timeout:g}s and was stopped")
        await asyncio.sleep(POLL_S)


def _reason(log_path: Path, offset: int) -> str:
    """What the worker said before it died: its `error:` line, else its last line."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            lines = f.read(64 * 1024).decode(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    said = (errors or lines or [""])[-1].removeprefix("error:").strip()
    return f": {said}" if said else ""


def _reap_in_background(process: subprocess.Popen) -> None:
    """A long-lived caller (the TUI) must reap the worker when it exits: a zombie's pid
    still answers kill(pid, 0), and `worker list` would count it alive."""
    threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
