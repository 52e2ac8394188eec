"""The Part 2 migration (SQLite schema 3, PostgreSQL schema 2) on a store written by Part 1.

The Part 1 store is built from the Part 1 migrations themselves (the SQL as it shipped) and
filled with raw rows: a job in every state, attempt history with output, config and a
worker. Opening it with this queuectl must carry all of it forward unchanged, with the new
fields at their "before Part 2" values; a store one version newer than this queuectl is
refused with one clear line (exit 1 through the CLI)."""

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl.cli.output import job_dict
from queuectl.jobs import JobState, NewJob, WorkerInfo
from queuectl.store import open_store
from queuectl.store import postgres_schema as pg_sql
from queuectl.store.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from queuectl.store.sqlite_schema import SCHEMA_VERSION as SQLITE_VERSION
from queuectl.store.sqlite_schema import _statements

from . import pg_support
from .helpers import NOW, claim, finish

pytestmark = pytest.mark.timeout(120)
QUEUECTL = str(Path(sys.executable).parent / "queuectl")

PART1_JOB = ("id", "command", "state", "attempts", "max_retries", "priority", "run_at", "timeout",
             "exit_code", "last_error", "created_at", "updated_at", "worker_id", "started_at",
             "run_no")
# One job in every state, as Part 1 wrote them.
JOBS = [
    ("p", "echo pending", "pending", 0, 3, 5, NOW, None, None, None, NOW - 50, NOW - 50, None,
     None, 0),
    ("f", "exit 1", "failed", 1, 3, 0, NOW + 60_000, 2.5, 1, "exit code 1", NOW - 40, NOW - 10,
     None, None, 1),
    ("r", "sleep 100", "processing", 1, 0, 0, NOW - 30, None, None, None, NOW - 30, NOW - 5,
     "w-old", NOW - 5, 1),
    ("c", "echo done", "completed", 1, 3, -2, NOW - 20, None, 0, None, NOW - 20, NOW - 1, None,
     None, 1),
    ("d", "false", "dead", 2, 1, 0, NOW - 10, None, 1, "exit code 1", NOW - 10, NOW - 2, None,
     None, 2),
]
ATTEMPTS = [  # job_id, n, worker, started, finished, ok, exit, error, duration, stdout, stderr
    ("f", 1, "w-old", NOW - 30, NOW - 10, False, 1, "exit code 1", 0.02, b"", b"oops\n"),
    ("c", 1, "w-old", NOW - 3, NOW - 1, True, 0, None, 0.002, b"done\n", None),
    ("d", 1, "w-old", NOW - 9, NOW - 8, False, 1, "exit code 1", 0.001, None, b"no\n"),
    ("d", 2, "w-old", NOW - 4, NOW - 2, False, 1, "exit code 1", 0.001, b"\x00\xff", b"no\n"),
]
WORKER = ("w-old", 4242, "host-a", 4, NOW - 100, NOW - 5, 1, False)
CONFIG = {"max-retries": "5", "backoff-base": "3"}


# -- building a Part 1 store ----------------------------------------------------------------


def sqlite_part1(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for script in SQLITE_MIGRATIONS[:2]:  # Part 1 shipped schema 2
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    marks = ", ".join("?" * len(PART1_JOB))
    conn.executemany(f"INSERT INTO jobs ({', '.join(PART1_JOB)}) VALUES ({marks})", JOBS)
    conn.executemany("INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, "
                     "exit_code, error, duration, stdout, stderr) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     [(*a[:5], int(a[5]), *a[6:]) for a in ATTEMPTS])
    conn.execute("INSERT INTO workers VALUES (?, ?, ?, ?, ?, ?, ?, ?)", WORKER)
    conn.executemany("INSERT INTO config VALUES (?, ?)", CONFIG.items())
    conn.execute("UPDATE job_counts SET n = (SELECT count(*) FROM jobs "
                 "WHERE jobs.state = job_counts.state)")
    conn.close()
    return str(path)


async def postgres_part1(request) -> str:
    async with pg_support.released_store(request, 1) as (url, conn):  # Part 1 shipped schema 1
        marks = ", ".join(f"${n}" for n in range(1, len(PART1_JOB) + 1))
        await conn.executemany(f"INSERT INTO jobs ({', '.join(PART1_JOB)}) VALUES ({marks})", JOBS)
        await conn.executemany("INSERT INTO attempts VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                               ATTEMPTS)
        await conn.execute("INSERT INTO workers VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", *WORKER)
        await conn.executemany("INSERT INTO config VALUES ($1, $2)", list(CONFIG.items()))
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def part1_url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_part1(tmp_path / "part1.db")
    return await postgres_part1(request)


# -- carried forward --------------------------------------------------------------------------


async def test_a_part1_store_is_carried_forward_with_nothing_lost(part1_url):
    store = await open_store(part1_url)
    try:
        for row in JOBS:
            job = await store.get_job(row[0])
            assert tuple(job[:15]) == row
            assert (job.queue, job.batch, job.cwd, job.env, job.unique_key, job.after) == (
                "default", None, None, None, None, ())
            document = job_dict(job)
            assert document["env"] == {} and document["after"] == [] and document["cwd"] is None
        for a in ATTEMPTS:
            output = await store.output(a[0], a[1])
            assert (output.stdout, output.stderr) == (a[9] or b"", a[10] or b"")
        history = await store.attempts("d")
        assert [(h.n, h.worker_id, h.exit_code, h.error) for h in history] == [
            (1, "w-old", 1, "exit code 1"), (2, "w-old", 1, "exit code 1")]
        assert await store.get_config() == CONFIG
        assert await store.list_workers() == [WorkerInfo(*WORKER)]
        assert await store.count_by_state() == {
            "pending": 1, "processing": 1, "completed": 1, "failed": 1, "dead": 1}
        assert [j.id async for j in store.iter_jobs()] == [row[0] for row in JOBS]
    finally:
        await store.close()


async def test_a_migrated_store_runs_old_and_new_jobs(part1_url):
    store = await open_store(part1_url)
    try:
        await store.insert_jobs([NewJob("new", "true", max_retries=0, batch="b1", cwd="/tmp",
                                        env={"A": "1"}, queue="q", after=("c",))], now=NOW)
        claimed = await claim(store, 5, now=NOW)
        assert [j.id for j in claimed] == ["p", "new"]  # priority 5 first; both due (c completed)
        old, new = claimed
        assert old.cwd is None and old.env is None and old.batch is None
        assert (new.cwd, new.env, new.batch, new.queue, new.after) == (
            "/tmp", {"A": "1"}, "b1", "q", ("c",))
        await store.finish_jobs([finish(old), finish(new)], now=NOW + 200)
        counts = await store.count_by_state()
        assert counts["completed"] == 3 and counts["pending"] == 0
        await store.retry_dead(["d"], now=NOW + 300)
        assert (await store.get_job("d")).state == JobState.PENDING
    finally:
        await store.close()


async def test_migrating_twice_changes_nothing(part1_url):
    first = await open_store(part1_url)
    before = [j async for j in first.iter_jobs()]
    await first.close()
    second = await open_store(part1_url)
    try:
        assert [j async for j in second.iter_jobs()] == before
    finally:
        await second.close()


# -- a newer store is refused -----------------------------------------------------------------


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUEUECTL, "--db", url, *args], capture_output=True, text=True,
                          timeout=60)


def test_a_sqlite_store_one_version_newer_is_refused(tmp_path):
    path = tmp_path / "newer.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SQLITE_VERSION + 1}")
    conn.close()
    for args in (["status"], ["enqueue", "true"], ["list"]):
        cp = _cli(str(path), *args)
        assert cp.returncode == 1 and cp.stdout == ""
        assert cp.stderr == (f"error: {path} has schema version {SQLITE_VERSION + 1}, newer "
                             f"than this queuectl understands ({SQLITE_VERSION}); upgrade queuectl\n")
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SQLITE_VERSION + 1
    conn.close()


async def test_a_postgres_store_one_version_newer_is_refused(request):
    import asyncpg

    url = await pg_support.new_store_url(request)
    store = await open_store(url)
    await store.close()
    schema = url.split("schema=")[1].split("&")[0]
    conn = await asyncpg.connect(pg_support.dsn())
    try:
        await conn.execute(f'UPDATE "{schema}".schema_version SET version = '
                           f'{pg_sql.SCHEMA_VERSION + 1}')
    finally:
        await conn.close()
    for args in (["status"], ["enqueue", "true"]):
        cp = _cli(url, *args)
        assert cp.returncode == 1 and cp.stdout == ""
        assert cp.stderr.startswith("error: store ") and cp.stderr.count("\n") == 1
        assert (f"has schema version {pg_sql.SCHEMA_VERSION + 1}, newer than this queuectl "
                f"understands ({pg_sql.SCHEMA_VERSION})") in cp.stderr
