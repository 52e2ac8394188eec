"""The SQLite store's reading verbs, written once for two drivers.

`SqliteStore` (store/sqlite.py) runs them on aiosqlite for the worker and the async commands.
`SqliteSnapshot` runs the very same coroutines on a plain sqlite3 connection, without an event
loop: its `_fetchall` never suspends, so `run_without_loop` can drive a whole read-only command
(`status`, `list`) to completion. One-shot reads then skip importing asyncio and aiosqlite,
which is most of what such a command costs (benchmarks P7).
"""

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import JobNotFoundError, StoreError
from ..jobs import (
    STATES,
    Attempt,
    Job,
    JobPage,
    JobState,
    Metrics,
    MinuteStats,
    Output,
    QueueInfo,
    Schedule,
    WorkerInfo,
    queue_infos,
)
from . import rows
from .paging import Filters, PageQuery, filtered_page, minute_buckets, minute_window, pages
from .sqlite_schema import describe, open_sync
from .sqlite_sql import JOB_COLUMNS, WORKER_COLUMNS, job_from_row

T = TypeVar("T")

PAGE = PageQuery(JOB_COLUMNS, mark=lambda n: f"?{n}", like="LIKE")
# Reads only the covering index attempts_finished (finished_at, ok, duration).
ACTIVITY = """
SELECT (finished_at - :start) / 60000, total(ok), total(NOT ok), total(duration), count(duration)
FROM attempts WHERE finished_at >= :start AND finished_at < :end GROUP BY 1
"""


class SqliteReads:
    """Needs `path` and `async def _fetchall(sql, params) -> list[row]` from its driver."""

    path: Path

    async def _fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        raise NotImplementedError

    async def get_job(self, job_id: str) -> Job:
        row = await self._fetchone(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job_from_row(row)

    async def iter_jobs(
        self, *, state: JobState | None = None, limit: int | None = None, chunk: int = 1000,
        batch: str | None = None,
    ) -> AsyncIterator[Job]:
        """Enqueue order, read in chunks by key so a million rows never sit in memory at once."""
        where = "seq > ?" + (" AND state = ?" if state else "") + (" AND batch = ?" if batch else "")
        query = f"SELECT {JOB_COLUMNS}, seq FROM jobs WHERE {where} ORDER BY seq LIMIT ?"
        filters = tuple(v for v in (state, batch) if v is not None)

        def page(after: int, size: int) -> Awaitable[list[Any]]:
            return self._fetchall(query, (after, *filters, size))

        async for row in pages(page, limit=limit, chunk=chunk):
            yield job_from_row(row)

    async def page_jobs(self, *, state: JobState | None = None, text: str | None = None,
                        queue: str | None = None, batch: str | None = None,
                        before: int | None = None, after: int | None = None,
                        limit: int = 50) -> JobPage:
        """Newest first, filtered by state and by text in the id or command (ASCII
        case-insensitive); keyset cursors instead of offsets, so any page costs the same."""
        return await filtered_page(PAGE, self._fetchall, job_from_row,
                                   filters=Filters(state, queue, batch, text),
                                   before=before, after=after, limit=limit)

    async def activity(self, *, now: int, minutes: int = 60) -> list[MinuteStats]:
        """Attempts finished per wall-clock minute over the last `minutes`, oldest first."""
        start, end = minute_window(now, minutes)
        rows = await self._fetchall(ACTIVITY, {"start": start, "end": end})
        return minute_buckets(rows, start=start, minutes=minutes)

    async def count_by_state(self) -> dict[str, int]:
        counts = dict(await self._fetchall("SELECT state, sum(n) FROM job_counts GROUP BY state"))
        return {state: counts.get(state, 0) for state in STATES}

    async def next_due_at(self) -> int | None:
        row = await self._fetchone(
            "SELECT min(run_at) FROM jobs INDEXED BY jobs_due_at "
            "WHERE state IN ('pending', 'failed') AND gated = 0 AND waiting = 0"
        )
        return row[0] if row else None

    async def attempts(self, job_id: str) -> list[Attempt]:
        rows = await self._fetchall(
            "SELECT n, worker_id, started_at, finished_at, exit_code, error, duration "
            "FROM attempts WHERE job_id = ? ORDER BY n",
            (job_id,),
        )
        return [Attempt(*row) for row in rows]

    async def output(self, job_id: str, attempt: int | None) -> Output:
        await self.get_job(job_id)
        sql = "SELECT n, stdout, stderr FROM attempts WHERE job_id = ?"
        if attempt is None:
            row = await self._fetchone(sql + " ORDER BY n DESC LIMIT 1", (job_id,))
        else:
            row = await self._fetchone(sql + " AND n = ?", (job_id, attempt))
        if row is None:
            which = "no finished attempt" if attempt is None else f"no attempt {attempt}"
            raise JobNotFoundError(f"job {job_id!r} has {which}")
        return Output(row[0], row[1] or b"", row[2] or b"")

    async def metrics(self, *, now: int) -> Metrics:
        minute, hour = now - 60_000, now - 3_600_000
        row = await self._fetchone(
            "SELECT total(ok AND finished_at >= :m), total(NOT ok AND finished_at >= :m), "
            "total(ok), total(NOT ok), avg(duration), count(duration) "
            "FROM attempts WHERE finished_at >= :h",
            {"m": minute, "h": hour},
        )
        timed = int(row[5])
        p95 = None
        if timed:
            p95 = (await self._fetchone(
                "SELECT duration FROM attempts WHERE finished_at >= ? AND duration IS NOT NULL "
                "ORDER BY duration LIMIT 1 OFFSET ?", (hour, max(0, -(-timed * 95 // 100) - 1)),
            ))[0]
        mean = round(row[4], 3) if row[4] is not None else None
        return Metrics(*(int(v) for v in row[:4]), mean, p95)

    async def list_queues(self) -> list[QueueInfo]:
        """The count rows the triggers and insert paths keep (schema 4): no job is read."""
        counts = await self._fetchall("SELECT queue, state, n FROM job_counts WHERE n <> 0")
        return queue_infos(counts, await self.queue_settings())

    async def queue_settings(self) -> list[tuple[str, bool, int]]:
        """(name, paused, limit) of every queue with settings: one small table, no job read."""
        return [(name, bool(paused), int(limit)) for name, paused, limit in
                await self._fetchall("SELECT name, paused, max_running FROM queues ORDER BY name")]

    async def runnable_counts(self, queues: Sequence[str] | None) -> tuple[int, int]:
        """rows.runnable_counts: what a --drain worker serving `queues` could still run."""
        paused = {r[0] for r in await self._fetchall("SELECT name FROM queues WHERE paused = 1")}

        async def one_queue(name: str) -> tuple[int, int]:
            return await self._fetchone(
                "SELECT (SELECT count(*) FROM jobs INDEXED BY jobs_queue_due WHERE queue = :q "
                "AND state IN ('pending', 'failed')), (SELECT count(*) FROM jobs INDEXED BY "
                "jobs_running WHERE queue = :q AND state = 'processing')", {"q": name})

        return await rows.runnable_counts(self, queues, paused, one_queue)

    async def dependency_edges(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in await self._fetchall(
            "SELECT dep_id, job_id FROM job_deps ORDER BY dep_id, job_id")]

    async def list_schedules(self) -> list[Schedule]:
        return [rows.schedule_from_row(r) for r in await self._fetchall(
            f"SELECT {rows.SCHEDULE_COLUMNS} FROM schedules ORDER BY name")]

    async def due_schedules(self, *, now: int) -> list[Schedule]:
        return [rows.schedule_from_row(r) for r in await self._fetchall(
            f"SELECT {rows.SCHEDULE_COLUMNS} FROM schedules INDEXED BY schedules_due "
            "WHERE next_run <= ? ORDER BY next_run, name", (now,))]

    # -- what `wait` watches (Part 2) --------------------------------------------------------

    async def get_jobs(self, ids: Sequence[str]) -> list[Job]:
        """The jobs named, in the order given; unknown ids are left out."""
        found = {}
        for chunk in _chunks(ids):
            rows = await self._fetchall(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN ({_marks(chunk)})", chunk)
            found.update((row[0], job_from_row(row)) for row in rows)
        return [found[i] for i in ids if i in found]

    async def job_states(self, ids: Sequence[str]) -> dict[str, str]:
        """{id: state} of the jobs named (unknown ids are left out): one cheap read per 500."""
        states: dict[str, str] = {}
        for chunk in _chunks(ids):
            states.update(await self._fetchall(
                f"SELECT id, state FROM jobs WHERE id IN ({_marks(chunk)})", chunk))
        return states

    async def batch_counts(self, batch: str) -> dict[str, int]:
        """Jobs of one batch per state (through jobs_batch: the batch's rows only)."""
        rows = await self._fetchall(
            "SELECT state, count(*) FROM jobs WHERE batch = ? GROUP BY state", (batch,))
        counts = dict(rows)
        return {state: counts.get(state, 0) for state in STATES}

    async def unfinished_ids(self, *, queue: str | None = None) -> list[str]:
        """Ids of the pending, failed and processing jobs (of one queue), in enqueue order."""
        where = "state IN ('pending', 'failed', 'processing')" + (" AND queue = ?" if queue else "")
        rows = await self._fetchall(f"SELECT id FROM jobs WHERE {where} ORDER BY seq",
                                    (queue,) if queue else ())
        return [r[0] for r in rows]

    async def get_config(self) -> dict[str, str]:
        return dict(await self._fetchall("SELECT key, value FROM config"))

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._fetchall(f"SELECT {WORKER_COLUMNS} FROM workers ORDER BY started_at, id")
        return [WorkerInfo(*row[:7], stop_requested=bool(row[7])) for row in rows]

    async def _fetchone(self, sql: str, params: Any = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None


def _chunks(ids: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _marks(chunk: Sequence[str]) -> str:
    return ",".join("?" * len(chunk))


class SqliteSnapshot(SqliteReads):
    """The reading verbs on a synchronous sqlite3 connection (autocommit: each read sees the
    latest commit). Drive its coroutines with `run_without_loop`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._conn = open_sync(path)

    async def _fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path)) from None

    async def close(self) -> None:
        self._conn.close()


def run_without_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine whose every await completes at once, with no event loop."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("a loop-less coroutine suspended: it awaited real I/O")
