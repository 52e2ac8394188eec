"""End-to-end helpers: drive the installed `queuectl` executable through subprocesses.

The small toolkit every e2e test uses:

- ``q`` (fixture): a CLI bound to a fresh store, once per backend: an SQLite file in ``tmp_path``,
  and a fresh schema on PostgreSQL (``QUEUECTL_TEST_PG_DSN``; without it that variant skips
  visibly, and fails under ``QUEUECTL_TEST_PG_REQUIRED=1``). ``@pytest.mark.sqlite_only`` keeps a
  test that is about the SQLite file itself off PostgreSQL.
  ``q.run(*args)`` -> CompletedProcess (bytes in, text out), ``q.ok(*args)`` asserts exit 0,
  ``q.json(*args)`` parses stdout as exactly one JSON document, ``q.job(id)`` is ``show ID --json``,
  ``q.by_id()`` all job objects from one ``list --json`` (for tests that need no history),
  ``q.enqueue(doc_or_text, *flags)`` -> the new id, ``q.drain()`` runs ``worker start --drain``.
- ``workers`` (fixture): ``workers.start(*args)`` -> a foreground worker process in its own session,
  stderr in a file; teardown kills every worker it started and every job process they left behind.
- ``wait_until(predicate, timeout)``: poll with a deadline instead of sleeping.
- ``assert_error(cp, code, *fragments)``: exit code, one ``error: `` line on stderr, no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sqlite3
import subprocess
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from clisupport import (  # noqa: F401 - re-exported for the test modules
    QUEUECTL,
    Worker,
    kill_tagged,
    pid_gone,
    rss_kib,
    wait_until,
)

STATES = ("pending", "processing", "completed", "failed", "dead")
JOB_FIELDS = (
    "id", "command", "state", "attempts", "max_retries", "created_at", "updated_at",
    "priority", "run_at", "next_retry_at", "timeout", "exit_code", "last_error",
)
HISTORY_FIELDS = ("attempt", "worker", "started_at", "finished_at", "exit_code", "error", "duration")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ANSI = re.compile(r"\x1b\[")
CONFIG_DEFAULTS = {
    "max-retries": 3,
    "backoff-base": 2,
    "backoff-max": 3600,
    "job-timeout": 0,
    "worker-count": 1,
    "output-limit": 1048576,
    "kill-grace": 2,
    "worker-lease": 10,
    "keep-completed": 604800,
    "keep-dead": 0,
    "output-interval": 0.25,
}
BACKENDS = ("sqlite", "postgres")
TAG_VAR = "QUEUECTL_E2E_TAG"  # inherited by workers and their jobs, so teardown can find orphans


# --------------------------------------------------------------------------- small helpers


def ts(text: str) -> float:
    """Contract timestamp (`2026-11-22T10:30:00.123Z`) -> epoch seconds."""
    assert TIMESTAMP.match(text), f"not a contract timestamp: {text!r}"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def assert_error(cp: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    """An error as the contract wants it: exit code, one `error: ` line, no traceback, no stdout."""
    where = f"args={cp.args!r}\nstdout={cp.stdout!r}\nstderr={cp.stderr!r}"
    assert cp.returncode == code, f"expected exit {code}, got {cp.returncode}\n{where}"
    assert "Traceback" not in cp.stderr, where
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line on stderr\n{where}"
    assert lines[0].startswith("error: "), where
    assert cp.stdout == "", f"an error must not print on stdout\n{where}"
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in the error\n{where}"


def event_lines(log: str, word: str, job_id: str) -> list[str]:
    """Worker log lines about `job_id` that carry the event `word`."""
    id_re = re.compile(rf"(?<![\w.-]){re.escape(job_id)}(?![\w.-])")
    return [line for line in log.splitlines() if word in line.lower() and id_re.search(line)]


# --------------------------------------------------------------------------- the CLI


@dataclass
class Cli:
    """`queuectl` bound to one store (env QUEUECTL_DB) and one scratch folder."""

    env: dict[str, str]
    tmp: Path
    db: str  # what QUEUECTL_DB holds: a file path (sqlite) or a postgresql:// URL
    backend: str = "sqlite"
    calls: list[list[str]] = field(default_factory=list)
    cleanups: list[Callable[[], Any]] = field(default_factory=list)

    @property
    def db_file(self) -> Path:
        assert self.backend == "sqlite", "only an SQLite store is a file"
        return Path(self.db)

    def new_store(self, name: str) -> str:
        """Another, still missing store on the same backend (dropped at teardown)."""
        if self.backend == "sqlite":
            return str(self.tmp / f"{name}.db")
        url, drop = pg_new_store()
        self.cleanups.append(drop)
        return url

    def store_exists(self, location: str | None = None) -> bool:
        location = location or self.db
        if self.backend == "sqlite":
            return Path(location).exists()
        return bool(pg_query("SELECT 1 FROM pg_namespace WHERE nspname = $1",
                             pg_schema(location)))

    def insert_rows(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Write rows straight into the store, as queuectl on another machine would."""
        columns = list(rows[0])
        values = [tuple(row[c] for c in columns) for row in rows]
        if self.backend == "sqlite":
            marks = ", ".join("?" * len(columns))
            with contextlib.closing(sqlite3.connect(self.db_file)) as conn, conn:
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                 values)
            return
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        pg_execute_many(f'INSERT INTO "{pg_schema(self.db)}".{table} ({", ".join(columns)}) '
                        f"VALUES ({marks})", values)

    def store_bytes(self) -> int:
        """What the store holds on disk: the SQLite file with its WAL, or the schema's relations
        (tables, indexes and TOAST) on PostgreSQL."""
        if self.backend == "sqlite":
            return sum(p.stat().st_size for p in self.db_file.parent.glob(self.db_file.name + "*"))
        return int(pg_query(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')", pg_schema(self.db))[0][0])

    def run(
        self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None,
        timeout: float = 60, binary: bool = False,
    ) -> subprocess.CompletedProcess:
        argv = [QUEUECTL, *map(str, args)]
        self.calls.append(argv)
        if isinstance(input, str):
            input = input.encode()
        cp = subprocess.run(
            argv, input=input, capture_output=True, env=env or self.env, timeout=timeout,
            cwd=self.tmp, stdin=None if input is not None else subprocess.DEVNULL,
        )
        if binary:
            return cp
        return subprocess.CompletedProcess(
            cp.args, cp.returncode, cp.stdout.decode(errors="replace"),
            cp.stderr.decode(errors="replace"),
        )

    def ok(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        cp = self.run(*args, **kw)
        assert cp.returncode == 0, (
            f"{' '.join(map(str, args))} -> exit {cp.returncode}\n"
            f"stdout={cp.stdout!r}\nstderr={cp.stderr!r}"
        )
        assert "Traceback" not in (cp.stderr if isinstance(cp.stderr, str) else ""), cp.stderr
        return cp

    def json(self, *args: str, **kw: Any) -> Any:
        """Run a --json command; stdout must be exactly one JSON document."""
        cp = self.ok(*args, **kw)
        try:
            return json.loads(cp.stdout)
        except json.JSONDecodeError as exc:
            pytest.fail(f"stdout of {args} is not one JSON document ({exc}): {cp.stdout!r}")

    def job(self, job_id: str) -> dict[str, Any]:
        return self.json("show", job_id, "--json")

    def jobs(self, *args: str) -> list[dict[str, Any]]:
        return self.json("list", "--json", *args)

    def by_id(self) -> dict[str, dict[str, Any]]:
        """Every job object (as `show --json`, without history) from one cheap `list --json`."""
        return {job["id"]: job for job in self.jobs()}

    def enqueue(self, job: str | dict[str, Any], *flags: str) -> str:
        text = job if isinstance(job, str) else json.dumps(job)
        cp = self.ok("enqueue", text, *flags)
        ids = cp.stdout.splitlines()
        assert len(ids) == 1 and ids[0].strip(), f"expected one id line, got {cp.stdout!r}"
        return ids[0]

    def enqueue_many(self, docs: Iterable[dict[str, Any]]) -> list[str]:
        text = "\n".join(json.dumps(d) for d in docs) + "\n"
        return self.ok("enqueue", "--file", "-", input=text).stdout.splitlines()

    def config_set(self, key: str, value: Any) -> None:
        self.ok("config", "set", key, str(value))

    def drain(self, *args: str, concurrency: int = 1, timeout: float = 60
              ) -> subprocess.CompletedProcess:
        """`worker start --drain` in the foreground; returns when the queue is empty."""
        cp = self.run("worker", "start", "--concurrency", str(concurrency), "--drain", *args,
                      timeout=timeout)
        assert cp.returncode == 0, f"drain exit {cp.returncode}\nstderr={cp.stderr}"
        return cp

    def path(self, name: str) -> Path:
        return self.tmp / name


def base_env(tmp: Path, db: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QUEUECTL_") and k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env.update(
        QUEUECTL_DB=db,
        NO_COLOR="1",
        XDG_DATA_HOME=str(tmp / "xdg-data"),  # nothing may leak into the real home
        LC_ALL="C.UTF-8",
        PYTHONUNBUFFERED="1",
    )
    return env


# --------------------------------------------------------------------------- PostgreSQL


def pg_new_store() -> tuple[str, Callable[[], Any]]:
    """A URL on a schema of its own, and its drop; skips (or fails in CI) without a server."""
    from store.pg_support import new_store_url_sync

    return new_store_url_sync()  # type: ignore[return-value]


def pg_schema(url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["schema"][-1]


def pg_query(query: str, *args: Any) -> list[Any]:
    """One query on the test server itself (not through queuectl)."""
    return asyncio.run(_on_test_server(lambda conn: conn.fetch(query, *args)))


def pg_execute_many(query: str, rows: list[tuple]) -> None:
    asyncio.run(_on_test_server(lambda conn: conn.executemany(query, rows)))


async def _on_test_server(work: Callable[[Any], Any]) -> Any:
    import asyncpg
    from store.pg_support import dsn

    conn = await asyncpg.connect(dsn(), timeout=10)
    try:
        return await work(conn)
    finally:
        await conn.close()


# --------------------------------------------------------------------------- fixtures


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: the test is about the SQLite file itself; it runs on SQLite only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a store runs once per backend (module scope, for `shared_q`)."""
    if "backend" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if sqlite_only else list(BACKENDS),
                             scope="module")


@pytest.fixture(scope="session", autouse=True)
def _queuectl_installed() -> None:
    if not Path(QUEUECTL).exists():
        pytest.exit(f"queuectl executable not found at {QUEUECTL}: pip install -e .", returncode=3)
    cp = subprocess.run([QUEUECTL, "--help"], capture_output=True, timeout=60)
    if cp.returncode != 0:
        pytest.exit(f"`queuectl --help` fails: {cp.stderr.decode()[-2000:]}", returncode=3)


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex


def make_cli(root: Path, tag: str, backend: str) -> Cli:
    """A CLI on a fresh store (`root/q.db`, or a new PostgreSQL schema), scratch in `root/work`."""
    work = root / "work"
    work.mkdir(parents=True)
    if backend == "sqlite":
        db, cleanups = str(root / "q.db"), []
    else:
        db, drop = pg_new_store()
        cleanups = [drop]
    env = base_env(root, db)
    env[TAG_VAR] = tag
    return Cli(env=env, tmp=work, db=db, backend=backend, cleanups=cleanups)


def close_cli(cli: Cli, tag: str) -> None:
    kill_tagged(TAG_VAR, tag)  # e.g. a job started by a `--drain` worker that a test SIGKILLed
    for cleanup in reversed(cli.cleanups):
        cleanup()


@pytest.fixture
def q(tmp_path: Path, tag: str, backend: str) -> Iterable[Cli]:
    cli = make_cli(tmp_path, tag, backend)
    yield cli
    close_cli(cli, tag)


@pytest.fixture(scope="module")
def shared_q(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Iterable[Cli]:
    """One store for a whole module of cheap tests that must leave it unchanged."""
    tag = uuid.uuid4().hex
    cli = make_cli(tmp_path_factory.mktemp("shared"), tag, backend)
    yield cli
    close_cli(cli, tag)


# --------------------------------------------------------------------------- workers


class Workers:
    def __init__(self, q: Cli, tag: str) -> None:
        self.q = q
        self.tag = tag
        self.started: list[Worker] = []

    def start(self, *args: str, env: dict[str, str] | None = None) -> Worker:
        log_path = self.q.tmp / f"worker-{len(self.started)}.log"
        worker = Worker.start(list(args), env=env or self.q.env, cwd=self.q.tmp, log_path=log_path)
        self.started.append(worker)
        return worker

    def wait_registered(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        """Until `worker list --json` shows `count` live workers."""
        def registered() -> list[dict[str, Any]] | None:
            listed = self.q.json("worker", "list", "--json")
            return listed if len(listed) >= count else None
        return wait_until(registered, timeout, 0.1, f"{count} registered worker(s)")

    def cleanup(self) -> None:
        for worker in self.started:
            worker.kill()
        kill_tagged(TAG_VAR, self.tag)


@pytest.fixture
def workers(q: Cli, tag: str) -> Iterable[Workers]:
    pool = Workers(q, tag)
    yield pool
    pool.cleanup()
