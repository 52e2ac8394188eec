"""What the end-to-end and fault-injection tiers share: the installed executable, polling with
a deadline, /proc readings, worker processes, and finding the processes a test left behind.

Tests tag their environment (TAG_VAR=<uuid>); workers and their jobs inherit it, so teardown
finds orphans of a SIGKILLed worker without knowing their pids."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _find_executable() -> str:
    beside = Path(sys.executable).parent / "queuectl"
    return str(beside) if beside.exists() else (shutil.which("queuectl") or str(beside))


QUEUECTL = _find_executable()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Running: present and not a zombie awaiting its reaper."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def pid_gone(pid: int) -> bool:
    return not alive(pid)


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def tagged_pids(var: str, tag: str) -> list[int]:
    """Live processes (other than this one) whose environment holds var=tag."""
    needle = f"{var}={tag}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{entry.name}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def kill_tagged(var: str, tag: str) -> None:
    for pid in tagged_pids(var, tag):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Worker:
    """A `queuectl worker start` process in its own session, stderr in a file."""

    proc: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, args: list[str], *, env: dict[str, str], cwd: Path, log_path: Path) -> Worker:
        with open(log_path, "wb") as err:
            proc = subprocess.Popen([QUEUECTL, "worker", "start", *map(str, args)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, env=env, cwd=cwd, start_new_session=True)
        return cls(proc, log_path)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker {self.pid} still running after {timeout}s\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker's whole session (it and anything it started) and reap it."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
