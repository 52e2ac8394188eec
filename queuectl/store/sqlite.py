"""The embedded SQLite backend, on aiosqlite. The only module that imports aiosqlite.

One connection per store object; an asyncio.Lock keeps one task's multi-statement
transaction from interleaving with another task's statement on the shared connection.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import DuplicateJobError, JobNotFoundError, StoreError, WrongStateError
from ..jobs import Finish, Job, JobState, NewJob, WorkerInfo
from . import doorbell
from .base import Rescued, Started
from .sqlite_reads import SqliteReads
from .sqlite_schema import BUSY_TIMEOUT_S, describe, open_sync
from .sqlite_sql import (
    COUNT_INSERTED,
    DEFAULT_MAX_RETRIES,
    INSERT_JOB,
    JOB_COLUMNS,
    WORKER_COLUMNS,
    duplicate_message,
    insert_rows,
    inserted_job,
    job_from_row,
)

# One statement claims a whole batch: atomic against every other process on the file.
CLAIM = f"""
UPDATE jobs SET state = 'processing', worker_id = :worker, attempts = attempts + 1,
       run_no = run_no + 1, started_at = :now, updated_at = :now, pid = NULL
WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_due  -- never a sort of the whole queue
              WHERE state IN ('pending', 'failed') AND run_at <= :now
              ORDER BY priority DESC, run_at, seq LIMIT :limit)
RETURNING {JOB_COLUMNS}, seq
"""
GUARD = "id = :id AND state = 'processing' AND worker_id = :worker AND run_no = :run_no"
RECORD_ATTEMPT = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, error,
                      duration, stdout, stderr)
SELECT id, run_no, worker_id, :started_at, :finished_at, :ok, :exit_code, :error, :duration,
       :stdout, :stderr
FROM jobs WHERE {GUARD}
"""
FINISH_JOB = f"""
UPDATE jobs SET state = :state, run_at = COALESCE(:run_at, run_at), exit_code = :exit_code,
       last_error = :error, updated_at = :now, worker_id = NULL, started_at = NULL, pid = NULL
WHERE {GUARD}
"""
RECORD_PID = f"UPDATE jobs SET pid = :pid WHERE {GUARD}"
REQUEUE = f"""
UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_no = run_no - 1,
       updated_at = :now, worker_id = NULL, started_at = NULL, pid = NULL
WHERE {GUARD}
"""
ORPHANED = "state = 'processing' AND worker_id NOT IN (SELECT id FROM workers)"
RECORD_LOST = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, error)
SELECT id, run_no, worker_id, started_at, :now, 0, 'worker lost' FROM jobs WHERE {ORPHANED}
"""
LOST = f"SELECT id, worker_id, pid, attempts > max_retries FROM jobs WHERE {ORPHANED}"
RESCUE = f"""
UPDATE jobs SET state = CASE WHEN attempts > max_retries THEN 'dead' ELSE 'pending' END,
       run_at = :now, updated_at = :now, exit_code = NULL, last_error = 'worker lost',
       worker_id = NULL, started_at = NULL, pid = NULL
WHERE {ORPHANED}
"""


class SqliteStore(SqliteReads):
    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._conn = conn
        self._lock = asyncio.Lock()
        self._identity = _file_identity(path)

    @classmethod
    async def open(cls, path: Path) -> "SqliteStore":
        open_sync(path).close()  # create, configure and migrate before any task runs
        try:
            conn = await aiosqlite.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            await conn.executescript(
                f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)};"
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
            )
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, path)) from None
        return cls(path, conn)

    async def close(self) -> None:
        await self._conn.close()

    # -- primitives ---------------------------------------------------------------------

    async def _fetchall(self, sql: str, params: Any = ()) -> list[Any]:
        async with self._lock:
            with self._errors():
                return list(await self._conn.execute_fetchall(sql, params))

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so a read-then-write never deadlocks."""
        async with self._lock:
            with self._errors():
                try:
                    # Inside the try: a cancel landing on BEGIN still leaves the BEGIN queued on
                    # aiosqlite's thread; the rollback is queued after it, so it undoes it.
                    await self._conn.execute("BEGIN IMMEDIATE")
                    yield self._conn
                except BaseException:
                    await asyncio.shield(self._conn.rollback())
                    raise
                await asyncio.shield(self._conn.commit())

    @contextlib.contextmanager
    def _errors(self):
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StoreError(describe(exc, self.path)) from None

    def _ring(self, worker_ids: list[str], message: bytes = doorbell.JOBS) -> None:
        doorbell.ring(str(self.path), worker_ids, message)

    async def _worker_ids(self) -> list[str]:
        return [r[0] for r in await self._conn.execute_fetchall("SELECT id FROM workers")]

    # -- jobs ---------------------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], *, now: int) -> list[Job]:
        """All or nothing; a job without max_retries takes config max-retries."""
        try:
            async with self._transaction() as conn:
                stored = await conn.execute_fetchall(DEFAULT_MAX_RETRIES)
                rows = insert_rows(jobs, now=now, stored_max_retries=stored)
                await conn.executemany(INSERT_JOB, rows)
                await conn.execute(COUNT_INSERTED, (len(rows),))
                workers = await self._worker_ids()
        except sqlite3.IntegrityError:
            raise DuplicateJobError(await self._first_existing([j.id for j in jobs])) from None
        self._ring(workers)
        return [inserted_job(row) for row in rows]

    async def _first_existing(self, ids: list[str]) -> str:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            row = await self._fetchone(f"SELECT id FROM jobs WHERE id IN ({marks})", chunk)
            if row:
                return duplicate_message(row[0])
        return duplicate_message(None)

    async def claim_jobs(self, *, worker_id: str, limit: int, now: int) -> list[Job]:
        rows = await self._fetchall(CLAIM, {"worker": worker_id, "now": now, "limit": limit})
        rows.sort(key=lambda r: (-r[5], r[6], r[15]))  # RETURNING order is unspecified
        return [job_from_row(r) for r in rows]

    async def record_started(self, starts: Sequence[Started]) -> None:
        params = [
            {"id": s.job_id, "worker": s.worker_id, "run_no": s.run_no, "pid": s.pid}
            for s in starts
        ]
        async with self._transaction() as conn:
            await conn.executemany(RECORD_PID, params)

    async def finish_jobs(self, finishes: Sequence[Finish], *, now: int) -> int:
        """Group commit: every finish in one transaction; stale ones (guard fails) are skipped."""
        params = [finish_params(f, now) for f in finishes]
        async with self._transaction() as conn:
            await conn.executemany(RECORD_ATTEMPT, params)
            cursor = await conn.executemany(FINISH_JOB, params)
            changed = cursor.rowcount
            workers = await self._worker_ids() if _any_retry(finishes) else []
        self._ring(workers)
        return changed

    async def requeue_interrupted(
        self, *, worker_id: str, jobs: Collection[tuple[str, int]], now: int
    ) -> int:
        params = [{"id": i, "worker": worker_id, "run_no": n, "now": now} for i, n in jobs]
        async with self._transaction() as conn:
            cursor = await conn.executemany(REQUEUE, params)
            return cursor.rowcount

    async def rescue_lost_jobs(
        self, *, dead_workers: Collection[tuple[str, int]], now: int
    ) -> list[Rescued]:
        async with self._transaction() as conn:
            await conn.executemany(
                "DELETE FROM workers WHERE id = ? AND heartbeat_at = ?", list(dead_workers)
            )
            lost = await conn.execute_fetchall(LOST)
            if lost:
                await conn.execute(RECORD_LOST, {"now": now})
                await conn.execute(RESCUE, {"now": now})
            workers = await self._worker_ids() if lost else []
        self._ring(workers)
        return [
            Rescued(job_id, JobState.DEAD if last else JobState.PENDING, pid, worker_id)
            for job_id, worker_id, pid, last in lost
        ]

    async def retry_dead(self, ids: Sequence[str] | None, *, now: int) -> list[str]:
        """Dead -> pending with attempts reset; all named jobs must be dead, or nothing changes."""
        async with self._transaction() as conn:
            if ids is None:
                ids = [r[0] for r in await conn.execute_fetchall(
                    "SELECT id FROM jobs WHERE state = 'dead' ORDER BY seq")]
            else:
                await self._check_all_dead(conn, ids)
            await conn.executemany(
                "UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, "
                "exit_code = NULL, last_error = NULL WHERE id = ? AND state = 'dead'",
                [(now, now, job_id) for job_id in ids],
            )
            workers = await self._worker_ids() if ids else []
        self._ring(workers)
        return list(ids)

    async def _check_all_dead(self, conn: aiosqlite.Connection, ids: Sequence[str]) -> None:
        for job_id in ids:
            rows = await conn.execute_fetchall("SELECT state FROM jobs WHERE id = ?", (job_id,))
            if not rows:
                raise JobNotFoundError(f"no job with id {job_id!r}")
            if rows[0][0] != JobState.DEAD:
                raise WrongStateError(f"job {job_id!r} is {rows[0][0]}, not dead")

    # -- config -------------------------------------------------------------------------

    async def set_config(self, key: str, value: str) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO config (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- workers ------------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT OR REPLACE INTO workers ({WORKER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (info.id, info.pid, info.host, info.concurrency, info.started_at,
                 info.heartbeat_at, info.running, int(info.stop_requested)),
            )

    async def heartbeat(self, *, worker_id: str, running: int, now: int) -> bool | None:
        """Returns stop_requested, or None when this worker's row is gone (it was presumed dead).

        Also checks that the path still names the file we opened: SQLite would go on writing
        to a deleted or replaced file, and the worker would run on a store nobody else sees."""
        if _file_identity(self.path) != self._identity:
            raise StoreError(f"{self.path} was deleted or replaced while this worker was running")
        row = await self._fetchone(
            "UPDATE workers SET heartbeat_at = ?, running = ? WHERE id = ? RETURNING stop_requested",
            (now, running, worker_id),
        )
        return None if row is None else bool(row[0])

    async def deregister_worker(self, worker_id: str) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    async def request_stop(self) -> list[str]:
        async with self._transaction() as conn:
            rows = await conn.execute_fetchall(
                "UPDATE workers SET stop_requested = 1 RETURNING id"
            )
        ids = [r[0] for r in rows]
        self._ring(ids, doorbell.STOP)
        return ids

    async def subscribe(self, worker_id: str, on_wakeup: Callable[[bytes], None]):
        return DoorbellSubscription.start(str(self.path), worker_id, on_wakeup)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class DoorbellSubscription:
    def __init__(self, sock, loop: asyncio.AbstractEventLoop) -> None:
        self._sock, self._loop = sock, loop

    @classmethod
    def start(cls, key: str, worker_id: str, on_wakeup: Callable[[bytes], None]):
        sock = doorbell.bind(key, worker_id)
        loop = asyncio.get_running_loop()
        if sock is not None:
            loop.add_reader(sock.fileno(), cls._drain, sock, on_wakeup)
        return cls(sock, loop)

    @staticmethod
    def _drain(sock, on_wakeup: Callable[[bytes], None]) -> None:
        messages = set()
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                messages.add(sock.recv(16))
        for message in sorted(messages):
            on_wakeup(message)

    async def close(self) -> None:
        if self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()


def finish_params(finish: Finish, now: int) -> dict[str, Any]:
    result, transition = finish.result, finish.transition
    return {
        "id": finish.job_id, "worker": finish.worker_id, "run_no": finish.run_no,
        "state": transition.state.value, "run_at": transition.run_at, "now": now,
        "started_at": result.started_at, "finished_at": result.finished_at,
        "ok": int(result.ok), "exit_code": result.exit_code, "error": result.error,
        "duration": result.duration, "stdout": result.stdout or None,
        "stderr": result.stderr or None,
    }


def _any_retry(finishes: Sequence[Finish]) -> bool:
    return any(f.transition.state == JobState.FAILED for f in finishes)
