"""What only the SQLite backend promises: file modes, schema versions, refusing foreign files,
concurrent first opens, the claim index, chunked reads."""

import os
import sqlite3
import stat
import threading

import pytest

from queuectl.errors import StoreError
from queuectl.jobs import JobState
from queuectl.store import open_store
from queuectl.store.sqlite import SqliteStore
from queuectl.store.sqlite_flow import CLAIM_ALL, CLAIM_SERVED
from queuectl.store.sqlite_schema import SCHEMA_VERSION, open_sync

from .helpers import NOW, claim, job


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_new_folder_is_0700_and_file_0600(tmp_path):
    path = tmp_path / "fresh" / "queue.db"
    store = await open_store(str(path))
    try:
        await store.insert_jobs([job("a")], now=NOW)  # makes the WAL exist
        assert mode(path.parent) == 0o700
        assert mode(path) == 0o600
        for extra in ("queue.db-wal", "queue.db-shm"):
            if (path.parent / extra).exists():
                assert mode(path.parent / extra) & 0o077 == 0
    finally:
        await store.close()


async def test_sqlite_url_opens_the_same_file(tmp_path):
    path = tmp_path / "queue.db"
    first = await open_store(str(path))
    try:
        await first.insert_jobs([job("a")], now=NOW)
        second = await open_store(f"sqlite://{path}")
        try:
            assert (await second.get_job("a")).id == "a"
        finally:
            await second.close()
    finally:
        await first.close()


async def test_schema_version_is_recorded_and_wal_is_on(tmp_path):
    path = tmp_path / "queue.db"
    await (await open_store(str(path))).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


async def test_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "queue.db"
    await (await open_store(str(path))).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        await open_store(str(path))


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        await open_store(str(path))
    assert path.read_text().startswith("these are my notes")


async def test_an_sqlite_file_of_another_program_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a queuectl store"):
        await open_store(str(path))
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert tables == {"contacts"}


def test_concurrent_first_opens_all_succeed(tmp_path):
    path = tmp_path / "queue.db"
    barrier, errors = threading.Barrier(4), []

    def first_open():
        barrier.wait()
        try:
            open_sync(path).close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


async def test_concurrent_first_opens_from_processes(tmp_path):
    import asyncio
    import sys

    path = tmp_path / "queue.db"
    script = ("import pathlib, sys; from queuectl.store.sqlite_schema import open_sync; "
              "open_sync(pathlib.Path(sys.argv[1])).close()")
    procs = [await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(path),
                                                  stderr=asyncio.subprocess.PIPE)
             for _ in range(4)]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in results]


@pytest.mark.parametrize("claim", [CLAIM_ALL, CLAIM_SERVED], ids=["all", "served"])
def test_claim_reads_only_index_heads(tmp_path, claim):
    """Every access to jobs goes through an index in claim order, so a claim reads about
    `limit` entries per source at any store size; the only sort is of those few candidates."""
    path = tmp_path / "queue.db"
    conn = open_sync(path)
    try:
        plan = conn.execute("EXPLAIN QUERY PLAN " + claim,
                            {"worker": "w", "now": NOW, "limit": 10, "served": '["a"]'}).fetchall()
    finally:
        conn.close()
    details = [row[-1] for row in plan]
    if claim is CLAIM_ALL:
        assert "SCAN jobs USING INDEX jobs_due" in details
        assert "SCAN q USING INDEX queues_limited" in details
    assert any("USING INDEX jobs_queue_due (queue=? AND waiting=?)" in d for d in details)
    assert not [d for d in details if d.startswith("SCAN") and "jobs" in d and "INDEX" not in d]


async def test_iter_jobs_crosses_small_chunks(tmp_path):
    store = await SqliteStore.open(tmp_path / "queue.db")
    try:
        await store.insert_jobs([job(f"j{i:02}") for i in range(10)], now=NOW)
        await claim(store, 4)
        everything = [j.id async for j in store.iter_jobs(chunk=3)]
        assert everything == [f"j{i:02}" for i in range(10)]
        pending = [j.id async for j in store.iter_jobs(state=JobState.PENDING, limit=5, chunk=2)]
        assert pending == ["j04", "j05", "j06", "j07", "j08"]
        exact = [j.id async for j in store.iter_jobs(limit=6, chunk=3)]
        assert exact == [f"j{i:02}" for i in range(6)]
    finally:
        await store.close()


async def test_the_loop_less_snapshot_reads_what_the_store_reads(tmp_path):
    """One-shot commands read through SqliteSnapshot without an event loop: same verbs, same
    answers as the aiosqlite store, including chunked iteration and the metrics."""
    from queuectl.jobs import WorkerInfo
    from queuectl.store.sqlite_reads import SqliteSnapshot, run_without_loop

    from .helpers import finish, make_dead

    store = await open_store(str(tmp_path / "queue.db"))
    try:
        await store.insert_jobs([job(f"j{i}", priority=i % 3) for i in range(25)], now=NOW)
        (claimed,) = await claim(store, 1)
        await store.finish_jobs([finish(claimed)], now=NOW + 100)
        await make_dead(store)
        await store.register_worker(WorkerInfo("w9", 1, "elsewhere", 2, NOW, NOW))
        await store.set_config("max-retries", "5")

        async def everything(s):
            return (await s.count_by_state(), [j async for j in s.iter_jobs(chunk=4)],
                    [j async for j in s.iter_jobs(state=JobState.DEAD, limit=1)],
                    await s.get_job("j1"), await s.attempts(claimed.id),
                    await s.output(claimed.id, None), await s.metrics(now=NOW + 200),
                    await s.get_config(), await s.list_workers(), await s.next_due_at())

        async def chunked(s):  # the snapshot's iter_jobs default chunk, the store's with 4
            return [j async for j in s.iter_jobs(chunk=4)]

        expected = await everything(store)
        snapshot = SqliteSnapshot(store.path)
        try:
            assert run_without_loop(everything(snapshot)) == expected
            assert run_without_loop(chunked(snapshot)) == expected[1]
        finally:
            run_without_loop(snapshot.close())
    finally:
        await store.close()


def test_run_without_loop_refuses_a_coroutine_that_suspends():
    import asyncio

    from queuectl.store.sqlite_reads import run_without_loop

    async def seven():
        return 7

    async def nested():
        return await seven() * 6

    async def sleeps():
        await asyncio.sleep(0)  # yields to a loop once

    assert run_without_loop(nested()) == 42
    with pytest.raises(RuntimeError, match="suspended"):
        run_without_loop(sleeps())


async def test_a_version_1_store_migrates_and_keeps_counting(tmp_path):
    """Schema 1 counted inserts with a per-row trigger; schema 2 drops it and counts per batch.
    A store created at version 1, with jobs in it, opens at the current version with the same
    counts, and later inserts (single, bulk, lean sync path) are counted exactly once."""
    from queuectl.store.sqlite_enqueue import insert_jobs as lean_insert
    from queuectl.store.sqlite_schema import MIGRATIONS, _statements

    path = tmp_path / "queue.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in _statements(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO jobs (id, command, state, max_retries, run_at, created_at, "
                 "updated_at) VALUES ('old', 'true', 'pending', 3, 0, 0, 0)")
    conn.close()

    store = await open_store(str(path))
    try:
        assert (await store.count_by_state())["pending"] == 1
        await store.insert_jobs([job("a"), job("b")], now=NOW)
        lean_insert(path, [job("c")], now=NOW)
        counts = await store.count_by_state()
        assert counts["pending"] == 4 and sum(counts.values()) == 4
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        assert "jobs_count_insert" not in triggers
    finally:
        conn.close()
