"""The counts-per-queue migration (SQLite schema 4, PostgreSQL schema 3) on a store written by
the Part 2 release (SQLite 3, PostgreSQL 2): counts per queue and state, counted afresh from
the jobs (on SQLite they replace the per-state rows; PostgreSQL keeps those beside them), and
the triggers keep them from there."""

import sqlite3
from pathlib import Path

import pytest

from queuectl.store import open_store
from queuectl.store.sqlite_schema import MIGRATIONS as SQLITE_MIGRATIONS
from queuectl.store.sqlite_schema import _statements

from . import pg_support
from .helpers import NOW, claim, finish, kept_queue_counts

pytestmark = pytest.mark.timeout(120)

COLUMNS = ("id", "command", "state", "max_retries", "run_at", "created_at", "updated_at", "queue")
JOBS = [(f"{queue}{i}", "true", state, 3, NOW, NOW, NOW, queue)
        for queue, states in (("default", ("pending", "completed", "completed")),
                              ("dl", ("pending", "pending", "dead")),
                              ("mail", ("failed", "processing")))
        for i, state in enumerate(states)]
EXPECTED = {("default", "pending"): 1, ("default", "completed"): 2, ("dl", "pending"): 2,
            ("dl", "dead"): 1, ("mail", "failed"): 1, ("mail", "processing"): 1}


def sqlite_release(path: Path) -> str:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for script in SQLITE_MIGRATIONS[:3]:  # the Part 2 release shipped schema 3
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    marks = ", ".join("?" * len(COLUMNS))
    conn.executemany(f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({marks})", JOBS)
    conn.execute("UPDATE job_counts SET n = (SELECT count(*) FROM jobs "
                 "WHERE jobs.state = job_counts.state)")  # that release's recount
    conn.close()
    return str(path)


async def postgres_release(request) -> str:
    async with pg_support.released_store(request, 2) as (url, conn):  # the Part 2 release: 2
        marks = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
        await conn.executemany(f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES ({marks})", JOBS)
        assert await conn.fetchval("SELECT sum(n) FROM job_counts") == len(JOBS)  # its trigger
    return url


@pytest.fixture(params=["sqlite", "postgres"])
async def release_url(request, tmp_path):
    if request.param == "sqlite":
        return sqlite_release(tmp_path / "release.db")
    return await postgres_release(request)


async def test_the_counts_are_carried_forward_per_queue_and_kept_from_there(release_url):
    store = await open_store(release_url)
    try:
        assert await kept_queue_counts(store) == EXPECTED
        assert await store.count_by_state() == {
            "pending": 3, "processing": 1, "completed": 2, "failed": 1, "dead": 1}
        (first,) = await claim(store, 1)
        assert first.id == "default0"
        await store.finish_jobs([finish(first)], now=NOW + 1)
        moved = dict(EXPECTED)
        del moved[("default", "pending")]
        moved[("default", "completed")] = 3
        assert await kept_queue_counts(store) == moved
        assert [j.id async for j in store.iter_jobs()] == [row[0] for row in JOBS]
    finally:
        await store.close()


async def test_opening_the_migrated_store_again_changes_no_count(release_url):
    for _ in range(2):
        store = await open_store(release_url)
        try:
            assert await kept_queue_counts(store) == EXPECTED
        finally:
            await store.close()
