"""Fault-injection helpers: drive the installed `queuectl` (and, for in-process attacks, its
modules) against a store in tmp_path, and record the figures RELIABILITY.md quotes.

- ``rq`` (fixture): the CLI bound to a fresh store; ``rq.run(*args)`` -> CompletedProcess (text),
  ``rq.ok``, ``rq.json``, ``rq.enqueue_many(docs)``, ``rq.worker(*args)`` -> a Popen in its own
  session (stderr to a file); teardown SIGKILLs every worker and every job process they left.
- ``db_query(path, sql)``: read the store directly (read-only), so checks never go through the
  code under attack.
- ``figures``: ``figures.record(attack, **numbers)``; printed in the terminal summary and
  written to ``.pytest_cache/queuectl-reliability.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from clisupport import (  # noqa: F401 - re-exported for the test modules
    QUEUECTL,
    Worker,
    alive,
    kill_tagged,
    proc_stat,
    rss_kib,
    tagged_pids,
    wait_until,
)

from .pgfaults import pg  # noqa: F401, E402 - the fixture of test_pg_faults

TAG_VAR = "QUEUECTL_RELIABILITY_TAG"
_FIGURES: dict[str, dict[str, Any]] = {}


def db_query(path: Path, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, tuple(params)).fetchall()
    finally:
        conn.close()


def counts(path: Path) -> dict[str, int]:
    rows = dict(db_query(path, "SELECT state, count(*) FROM jobs GROUP BY state"))
    return {s: rows.get(s, 0) for s in ("pending", "processing", "completed", "failed", "dead")}


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every direct child of `pid`."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat and int(stat[1]) == pid:
                found.append((int(entry.name), stat[0]))
    return found


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line: {stderr!r}"
    return lines[0]


@dataclass
class Cli:
    tmp: Path
    db: Path
    env: dict[str, str]
    tag: str
    workers: list[Worker] = field(default_factory=list)

    def run(self, *args: Any, input: str | bytes | None = None, timeout: float = 60,
            env: dict[str, str] | None = None, db: Path | str | None = None,
            ) -> subprocess.CompletedProcess:
        run_env = dict(env or self.env)
        if db is not None:
            run_env["QUEUECTL_DB"] = str(db)
        if isinstance(input, str):
            input = input.encode()
        cp = subprocess.run([QUEUECTL, *map(str, args)], input=input, capture_output=True,
                            env=run_env, timeout=timeout, cwd=self.tmp,
                            stdin=None if input is not None else subprocess.DEVNULL)
        return subprocess.CompletedProcess(cp.args, cp.returncode,
                                           cp.stdout.decode(errors="replace"),
                                           cp.stderr.decode(errors="replace"))

    def ok(self, *args: Any, **kw: Any) -> subprocess.CompletedProcess:
        cp = self.run(*args, **kw)
        assert cp.returncode == 0 and "Traceback" not in cp.stderr, (
            f"{args} -> {cp.returncode}\nstdout={cp.stdout[-2000:]!r}\nstderr={cp.stderr[-2000:]!r}")
        return cp

    def json(self, *args: Any, **kw: Any) -> Any:
        return json.loads(self.ok(*args, **kw).stdout)

    def enqueue_many(self, docs: Iterable[dict[str, Any]], **kw: Any) -> list[str]:
        text = "".join(json.dumps(d) + "\n" for d in docs)
        return self.ok("enqueue", "--file", "-", input=text, **kw).stdout.split()

    def worker(self, *args: Any, env: dict[str, str] | None = None,
               db: Path | str | None = None) -> Worker:
        run_env = dict(env or self.env)
        if db is not None:
            run_env["QUEUECTL_DB"] = str(db)
        log_path = self.tmp / f"worker-{len(self.workers)}.log"
        worker = Worker.start(list(args), env=run_env, cwd=self.tmp, log_path=log_path)
        self.workers.append(worker)
        return worker

    def cleanup(self) -> None:
        for worker in self.workers:
            worker.kill()
        kill_tagged(TAG_VAR, self.tag)


def make_env(tmp: Path, db: Path, tag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(QUEUECTL_DB=str(db), NO_COLOR="1", XDG_DATA_HOME=str(tmp / "xdg"),
               LC_ALL="C.UTF-8", PYTHONUNBUFFERED="1", TMPDIR=str(tmp))
    env[TAG_VAR] = tag
    return env


@pytest.fixture
def rq(tmp_path: Path) -> Iterable[Cli]:
    work = tmp_path / "work"
    work.mkdir()
    tag = uuid.uuid4().hex
    db = tmp_path / "q.db"
    cli = Cli(tmp=work, db=db, env=make_env(tmp_path, db, tag), tag=tag)
    yield cli
    cli.cleanup()


class Figures:
    def record(self, attack: str, **numbers: Any) -> None:
        _FIGURES.setdefault(attack, {}).update(numbers)


@pytest.fixture
def figures() -> Figures:
    return Figures()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("queuectl reliability figures")
    for attack, numbers in _FIGURES.items():
        terminalreporter.write_line(f"{attack}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))
    out = Path(config.rootpath) / ".pytest_cache" / "queuectl-reliability.json"
    with contextlib.suppress(OSError):
        out.parent.mkdir(exist_ok=True)
        previous = json.loads(out.read_text()) if out.exists() else {}
        previous.update(_FIGURES)
        out.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
