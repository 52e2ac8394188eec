"""The embedded SQLite backend, on aiosqlite. The only module that imports aiosqlite.

One connection per store object. Every verb is a single call on aiosqlite's thread: a read is
one statement, a write one whole transaction (`_write`), so statements of concurrent tasks
never interleave inside a transaction.
"""

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Callable, Collection, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from ..errors import DuplicateJobError, JobNotFoundError, StoreError, WrongStateError
from ..jobs import (
    FINISHED_STATES,
    Beat,
    Chunk,
    Finish,
    Job,
    JobState,
    NewJob,
    OutputWrite,
    Schedule,
    WorkerInfo,
)
from . import doorbell
from . import sqlite_flow as flow
from . import sqlite_schedules as schedules
from . import sqlite_steer as steer
from .base import Rescued
from .rows import claim_order, inserted_jobs
from .sqlite_reads import SqliteReads
from .sqlite_schema import BUSY_TIMEOUT_S, describe, open_sync
from .sqlite_sql import (
    WORKER_COLUMNS,
    first_existing,
    insert_new_jobs,
    job_from_row,
    worker_ids,
    write_transaction,
)

T = TypeVar("T")

GUARD = "id = :id AND state = 'processing' AND worker_id = :worker AND run_no = :run_no"
RECORD_ATTEMPT = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, error,
                      duration, stdout, stderr)
SELECT id, run_no, worker_id, :started_at, :finished_at, :ok, :exit_code, :error, :duration,
       :stdout, :stderr
FROM jobs WHERE {GUARD}
"""
# A cancelled job that failed on its own before the kill reached it is not retried either.
_STOPPED = "cancel_requested = 1 AND :state <> 'completed'"
FINISH_JOB = f"""
UPDATE jobs SET state = CASE WHEN {_STOPPED} THEN 'dead' ELSE :state END,
       run_at = COALESCE(:run_at, run_at), exit_code = :exit_code,
       last_error = CASE WHEN {_STOPPED} THEN 'cancelled' ELSE :error END, updated_at = :now,
       worker_id = NULL, started_at = NULL, pid = NULL, cancel_requested = 0
WHERE {GUARD}
"""
REQUEUE = f"""
UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_no = run_no - 1,
       updated_at = :now, worker_id = NULL, started_at = NULL, pid = NULL
WHERE {GUARD} AND cancel_requested = 0
"""
ORPHANED = "state = 'processing' AND worker_id NOT IN (SELECT id FROM workers)"
RECORD_LOST = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, error)
SELECT id, run_no, worker_id, started_at, :now, 0, 'worker lost' FROM jobs WHERE {ORPHANED}
"""
# A lost job whose cancel was requested goes dead (cancelled), never back to the queue.
_ENDS = "cancel_requested = 1 OR attempts > max_retries"
LOST = f"SELECT id, worker_id, {_ENDS} FROM jobs WHERE {ORPHANED}"
DROP_LOST_OUTPUT = f"""
DELETE FROM output_chunks WHERE (job_id, run_no) IN (SELECT id, run_no FROM jobs WHERE {ORPHANED})
"""
RESCUE = f"""
UPDATE jobs SET state = CASE WHEN {_ENDS} THEN 'dead' ELSE 'pending' END,
       run_at = :now, updated_at = :now, exit_code = NULL,
       last_error = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'worker lost' END,
       worker_id = NULL, started_at = NULL, pid = NULL, cancel_requested = 0
WHERE {ORPHANED}
"""


class SqliteStore(SqliteReads):
    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.url = f"sqlite://{path}"
        self._conn = conn
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
        with self._errors():
            return list(await self._conn.execute_fetchall(sql, params))

    async def _write(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run body(connection) as one BEGIN IMMEDIATE transaction on aiosqlite's thread.

        One hop per transaction instead of one per statement: aiosqlite runs one queued call
        at a time, so no other task's statement can land inside the transaction (no lock
        needed), a cancelled caller cannot leave it half done, and each avoided hop saves a
        thread hand-off and a loop wake-up (about a tenth of the engine's CPU per job, P3).
        `Connection._execute` is the runner behind all of aiosqlite's own methods."""
        with self._errors():
            return await self._conn._execute(write_transaction, self._conn._conn, body)

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

    # -- jobs ---------------------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], *, now: int) -> list[Job]:
        """All or nothing; a job without max_retries takes config max-retries."""
        try:
            retries, workers, stored = await self._write(partial(insert_new_jobs, jobs=jobs, now=now))
        except sqlite3.IntegrityError:
            ids = [j.id for j in jobs]
            with self._errors():
                message = await self._conn._execute(first_existing, self._conn._conn, ids)
            raise DuplicateJobError(message) from None
        self._ring(workers)
        return inserted_jobs(jobs, default_retries=retries, now=now, stored=stored)

    async def claim_jobs(self, *, worker_id: str, limit: int, now: int,
                         queues: Sequence[str] | None = None) -> list[Job]:
        rows = await self._fetchall(*flow.claim_params(worker_id, limit, now, queues))
        rows.sort(key=claim_order)  # RETURNING order is unspecified
        return [job_from_row(r) for r in rows]

    async def finish_jobs(self, finishes: Sequence[Finish], *, now: int,
                          output: OutputWrite | None = None) -> int:
        """Group commit: every finish in one transaction; stale ones (guard fails) are skipped.
        Streamed output (running jobs' new pieces, finished ones' last) goes in the same one."""
        params = [finish_params(f, now) for f in finishes]
        retry = any(f.transition.state == JobState.FAILED for f in finishes)
        finishers = {f.worker_id for f in finishes}

        def finish(conn: sqlite3.Connection) -> tuple[int, list[str]]:
            if output is not None:
                steer.write_output(conn, output)
            conn.executemany(RECORD_ATTEMPT, params)
            changed = conn.executemany(FINISH_JOB, params).rowcount
            released = flow.resolve_dependents(conn, [f.job_id for f in finishes], now)
            if output is not None:
                steer.drop_output(conn, output)
            # retries, released dependents and freed slots of a limited queue wake idle workers;
            # not the finishing worker itself, which looks again after every commit anyway
            wake = retry or released or flow.any_limited(conn)
            return changed, [w for w in worker_ids(conn) if w not in finishers] if wake else []

        changed, workers = await self._write(finish)
        self._ring(workers)
        return changed

    async def requeue_interrupted(
        self, *, worker_id: str, jobs: Collection[tuple[str, int]], now: int
    ) -> int:
        params = [{"id": i, "worker": worker_id, "run_no": n, "now": now} for i, n in jobs]

        def requeue(conn: sqlite3.Connection) -> tuple[int, list[str]]:
            steer.requeue_cancelled(conn, params)
            changed = conn.executemany(REQUEUE, params).rowcount
            return changed, worker_ids(conn) if changed else []  # like NOTIFY on PostgreSQL

        changed, workers = await self._write(requeue)
        self._ring(workers)
        return changed

    async def rescue_lost_jobs(
        self, *, dead_workers: Collection[tuple[str, int]], now: int
    ) -> list[Rescued]:
        def rescue(conn: sqlite3.Connection) -> tuple[list[Any], list[str]]:
            conn.executemany("DELETE FROM workers WHERE id = ? AND heartbeat_at = ?",
                             list(dead_workers))
            lost = conn.execute(LOST).fetchall()
            if not lost:
                return [], []
            conn.execute(RECORD_LOST, {"now": now})
            conn.execute(DROP_LOST_OUTPUT)
            conn.execute(RESCUE, {"now": now})
            flow.resolve_dependents(conn, [r[0] for r in lost if r[2]], now)
            return lost, worker_ids(conn)

        lost, workers = await self._write(rescue)
        self._ring(workers)
        return [
            Rescued(job_id, JobState.DEAD if last else JobState.PENDING, worker_id)
            for job_id, worker_id, last in lost
        ]

    async def retry_dead(self, ids: Sequence[str] | None, *, now: int) -> list[str]:
        """Dead -> pending with attempts reset; all named jobs must be dead, or nothing changes."""

        def retry(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
            chosen = list(ids) if ids is not None else [r[0] for r in conn.execute(
                "SELECT id FROM jobs WHERE state = 'dead' ORDER BY seq")]
            _check_all_dead(conn, chosen)
            try:
                conn.executemany(
                    "UPDATE jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ?, "
                    "exit_code = NULL, last_error = NULL, cancel_requested = 0, "
                    f"gated = {flow.GATE_OF_QUEUE} "
                    "WHERE id = ? AND state = 'dead'",
                    [(now, now, job_id) for job_id in chosen],
                )
            except sqlite3.IntegrityError:  # the partial unique index on unique_key
                raise WrongStateError(flow.held_key_message(conn, chosen)) from None
            return chosen, worker_ids(conn) if chosen else []

        retried, workers = await self._write(retry)
        self._ring(workers)
        return retried

    # -- queues -------------------------------------------------------------------------

    async def set_queues(self, names: Sequence[str], *, paused: bool | None = None,
                         limit: int | None = None) -> None:
        """Pause/resume or limit queues (created when unknown); every worker is woken so the
        change holds from its next claim."""
        def change(conn: sqlite3.Connection) -> list[str]:
            flow.set_queues(conn, names, paused=paused, limit=limit)
            return worker_ids(conn)

        self._ring(await self._write(change))

    # -- schedules ----------------------------------------------------------------------

    async def add_schedule(self, schedule: Schedule) -> None:
        await self._write(partial(schedules.add, schedule=schedule))

    async def remove_schedule(self, name: str) -> None:
        await self._write(partial(schedules.remove, name=name))

    async def fire_schedule(self, *, name: str, expected: int, next_run: int | None,
                            job: NewJob, now: int) -> bool:
        """One run of a schedule, exactly once across workers: see sqlite_schedules.fire."""
        workers = await self._write(partial(schedules.fire, name=name, expected=expected,
                                            next_run=next_run, job=job, now=now))
        if workers:
            self._ring(workers)
        return workers is not None

    async def purge_jobs(self, *, state: JobState, before: int, limit: int,
                         batch: str | None = None, dry_run: bool = False) -> int:
        """Delete up to `limit` jobs in `state` (completed or dead only) last updated before
        `before`, with their history and output; returns how many (dry_run: only counts).
        One short write transaction: the per-row delete trigger keeps job_counts right, and the
        state is re-read under the write lock, so a job that `dlq retry` revived is never hit."""
        if state not in FINISHED_STATES:
            raise ValueError(f"purge_jobs deletes finished jobs only, not {state}")
        where, params = _purge_filter(state, before, batch)
        if dry_run:
            return (await self._fetchone(f"SELECT count(*) FROM {where}", params))[0]

        def purge(conn: sqlite3.Connection) -> int:
            ids = [(r[0],) for r in conn.execute(
                f"SELECT id FROM {where} LIMIT ?", (*params, limit))]
            conn.executemany("DELETE FROM attempts WHERE job_id = ?", ids)
            conn.executemany(steer.DROP_JOB_OUTPUT, ids)
            conn.executemany("DELETE FROM jobs WHERE id = ?", ids)
            if ids:  # a dead job may still be listed as waiting for another (one scan a slice)
                conn.execute("DELETE FROM job_deps WHERE job_id IN (SELECT value FROM "
                             "json_each(?))", (json.dumps([i for i, in ids]),))
            return len(ids)

        return await self._write(purge)

    async def cancel_jobs(self, *, ids: Sequence[str] | None = None, batch: str | None = None,
                          queue: str | None = None, now: int) -> list[Job]:
        """Waiting jobs -> dead (cancelled); running ones flagged for their worker, whose
        doorbell rings. Named ids must all exist unfinished, or nothing changes."""
        where, value = ("batch", batch) if batch is not None else ("queue", queue)
        jobs, holders = await self._write(partial(
            steer.cancel_body, ids=ids, where=where, value=value, now=now))
        self._ring(holders, doorbell.CANCEL)
        return jobs

    async def output_chunks(self, job_id: str, run_no: int, *, after: int = 0,
                            limit: int = 1000) -> list[Chunk]:
        """Streamed pieces of one attempt stored after `after` (a Chunk.seq), in order."""
        return steer.chunks_from_rows(
            await self._fetchall(steer.READ_CHUNKS, (job_id, run_no, after, limit)))

    # -- config -------------------------------------------------------------------------

    async def set_config(self, key: str, value: str) -> None:
        await self._write(lambda conn: conn.execute(
            "INSERT INTO config (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        ))

    # -- workers ------------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._write(lambda conn: conn.execute(
            f"INSERT OR REPLACE INTO workers ({WORKER_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
            (info.id, info.pid, info.host, info.concurrency, info.started_at,
             info.heartbeat_at, info.running, int(info.stop_requested)),
        ))

    async def heartbeat(self, *, worker_id: str, running: int, now: int) -> Beat | None:
        """stop_requested and the ids of its jobs being cancelled, or None when this worker's
        row is gone (it was presumed dead).

        Also checks that the path still names the file we opened: SQLite would go on writing
        to a deleted or replaced file, and the worker would run on a store nobody else sees."""
        if _file_identity(self.path) != self._identity:
            raise StoreError(f"{self.path} was deleted or replaced while this worker was running")

        def beat(conn: sqlite3.Connection) -> Beat | None:
            row = conn.execute("UPDATE workers SET heartbeat_at = ?, running = ? WHERE id = ? "
                               "RETURNING stop_requested", (now, running, worker_id)).fetchone()
            if row is None:
                return None
            cancel = tuple(r[0] for r in conn.execute(steer.CANCELLED_IDS, (worker_id,)))
            return Beat(bool(row[0]), cancel)

        return await self._write(beat)

    async def deregister_worker(self, worker_id: str) -> None:
        await self._write(lambda conn: conn.execute(
            "DELETE FROM workers WHERE id = ?", (worker_id,)))

    async def request_stop(self) -> list[str]:
        rows = await self._write(lambda conn: conn.execute(
            "UPDATE workers SET stop_requested = 1 RETURNING id").fetchall())
        ids = [r[0] for r in rows]
        self._ring(ids, doorbell.STOP)
        return ids

    async def subscribe(self, worker_id: str, on_wakeup: Callable[[bytes], None]):
        return DoorbellSubscription.start(str(self.path), worker_id, on_wakeup)


def _purge_filter(state: JobState, before: int, batch: str | None) -> tuple[str, tuple]:
    """FROM ... WHERE for purge. Without a batch, the oldest finished rows through
    jobs_finished (a range that stops at `before`; jobs_state would walk every completed job when
    none is old enough yet)."""
    where = f"state IN ('completed', 'dead') AND state = '{state.value}' AND updated_at < ?"
    if batch is None:  # the IN term is the index's own WHERE, word for word: SQLite needs that
        return f"jobs INDEXED BY jobs_finished WHERE {where}", (before,)
    return f"jobs WHERE {where} AND batch = ?", (before, batch)


def _check_all_dead(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    for job_id in ids:
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        if row[0] != JobState.DEAD:
            raise WrongStateError(f"job {job_id!r} is {row[0]}, not dead")


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
