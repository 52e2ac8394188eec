"""migrate-store: copy every job, its attempt history with output, the config, the queue
settings, the schedules and the `after` waits from one store to another (SQLite -> PostgreSQL,
back, or between two of either).

Reading goes through the Store protocol only, so any backend can be the source. Writing needs
rows as they are (states, attempts, run numbers, timestamps), which the protocol does not
offer, so each target backend has a bulk importer here, all in one transaction: the copy
lands whole or not at all. Rules (README's migrate-store paragraph, DECISIONS.md's table):

- the target must hold no job, nor a schedule named as one of the source's (config keys and
  queue settings are overwritten by the source's);
- queue settings (pause, limit), schedules (same next run) and dependency edges (read through
  list_queues, list_schedules, dependency_edges) go in after every job, in the same
  transaction; the jobs' derived flags (`gated`, `waiting`, `has_dependents`) are set from
  them as the target's own verbs set them (DECISIONS.md §9), so a job waiting on `after` keeps
  waiting and a paused queue stays paused;
- output pieces streamed by attempts still running are not copied: such jobs are `processing`
  under a dead worker (see below), and the target records their attempt as "worker lost";
- no live worker may be registered on the source (stop them first): jobs would move under it;
- jobs still `processing` (held by a worker that died) are copied as they are; the target's
  rescuer recovers them like any lost job ("worker lost", the attempt counts);
- workers are not copied: they register again when started against the target.
"""

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError, WrongStateError
from ..jobs import Job, QueueInfo, Schedule
from .base import Store

CHUNK = 500


@dataclass(frozen=True)
class Copied:
    jobs: int
    attempts: int
    config: int


@dataclass(frozen=True)
class Flow:
    """What Part 2 keeps around the jobs: written after them, as one piece."""
    queues: list[QueueInfo]
    schedules: list[Schedule]
    edges: list[tuple[str, str]]  # (dep_id, job_id)


async def copy_store(source: Store, target: Store, *, lease_s: float, now: int,
                     progress: Callable[[int], None] | None = None) -> Copied:
    from ..workers import is_alive, this_host

    if source.url == target.url:
        raise UsageError("--from and --to name the same store")
    host = this_host()
    live = [w.id for w in await source.list_workers()
            if is_alive(w, now=now, lease_s=lease_s, host=host)]
    if live:
        raise WrongStateError(f"{len(live)} worker(s) still run on the source ({live[0]}, ...): "
                              "stop them first (queuectl worker stop)")
    held = sum((await target.count_by_state()).values())
    if held:
        raise WrongStateError(f"the target already holds {held} job(s); migrate-store copies "
                              "into an empty store only")
    config = await source.get_config()
    flow = Flow(await source.list_queues(), await source.list_schedules(),
                await source.dependency_edges())
    await _refuse_schedule_clash(flow.schedules, target)
    jobs = attempts = 0
    async with _importer(target) as importer:
        write = importer.write
        batch: list[Job] = []
        async for job in source.iter_jobs():
            batch.append(job)
            if len(batch) >= CHUNK:
                attempts += await _flush(source, write, batch)
                jobs += len(batch)
                batch = []
                if progress:
                    progress(jobs)
        if batch:
            attempts += await _flush(source, write, batch)
            jobs += len(batch)
        await importer.write_flow(flow)
    for key, value in config.items():
        await target.set_config(key, value)
    return Copied(jobs, attempts, len(config))


async def _refuse_schedule_clash(schedules: Sequence[Schedule], target: Store) -> None:
    taken = {s.name for s in await target.list_schedules()}
    clash = next((s.name for s in schedules if s.name in taken), None)
    if clash is not None:
        raise WrongStateError(f"the target already has a schedule named {clash!r}; remove it "
                              "first (queuectl schedule remove)")


async def _flush(source: Store, write, jobs: list[Job]) -> int:
    rows = []
    for job in jobs:
        for a in await source.attempts(job.id):
            out = await source.output(job.id, a.n)
            rows.append((job.id, a.n, a.worker_id, a.started_at, a.finished_at, a.error is None,
                         a.exit_code, a.error, a.duration, out.stdout or None, out.stderr or None))
    await write(jobs, rows)
    return len(rows)


@contextlib.asynccontextmanager
async def _importer(target: Store) -> AsyncIterator[Any]:
    """An object with write(jobs, attempt rows) and write_flow(flow), in one transaction."""
    importing = getattr(target, "importing", None)
    if importing is not None:  # PostgreSQL
        async with importing() as importer:
            yield importer
        return
    path = getattr(target, "path", None)
    if path is None:
        raise UsageError(f"migrate-store cannot write to {target.url}")
    async with _sqlite_importer(path) as importer:
        yield importer


SQLITE_JOB = (
    "INSERT INTO jobs (id, command, state, attempts, max_retries, priority, run_at, timeout, "
    "exit_code, last_error, created_at, updated_at, worker_id, started_at, run_no, "
    "queue, batch, cwd, env, unique_key, after_ids) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_ATTEMPT = (
    "INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, error, "
    "duration, stdout, stderr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteImporter:
    """Rows as they are, on a synchronous connection inside the caller's transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def write(self, jobs: Sequence[Job], attempts: Sequence[tuple]) -> None:
        from .rows import part2_values

        self._conn.executemany(SQLITE_JOB, [
            (j.id, j.command, j.state.value, j.attempts, j.max_retries, j.priority, j.run_at,
             j.timeout, j.exit_code, j.last_error, j.created_at, j.updated_at, j.worker_id,
             j.started_at, j.run_no, *part2_values(j)) for j in jobs])
        self._conn.executemany(SQLITE_ATTEMPT, [(*a[:5], int(a[5]), *a[6:]) for a in attempts])

    async def write_flow(self, flow: Flow) -> None:
        """After every job, through the bodies of the target's own verbs: set_queues regates
        the queue's jobs; edges set has_dependents and waiting as link_dependencies does."""
        from . import sqlite_schedules
        from .deps import waiting_counts
        from .sqlite_flow import set_queues

        conn = self._conn
        for queue in flow.queues:
            set_queues(conn, [queue.name], paused=queue.paused, limit=queue.limit)
        for schedule in flow.schedules:
            sqlite_schedules.add(conn, schedule)
        conn.executemany("INSERT INTO job_deps (dep_id, job_id) VALUES (?, ?)", flow.edges)
        conn.executemany("UPDATE jobs SET has_dependents = 1 WHERE id = ?",
                         [(dep,) for dep in sorted({d for d, _ in flow.edges})])
        conn.executemany("UPDATE jobs SET waiting = ? WHERE id = ?",
                         [(n, job_id) for job_id, n in waiting_counts(flow.edges).items()])


@contextlib.asynccontextmanager
async def _sqlite_importer(path) -> AsyncIterator[SqliteImporter]:
    """A synchronous connection in one BEGIN IMMEDIATE transaction (the store file is local)."""
    import sqlite3

    from ..errors import StoreError
    from .sqlite_schema import describe, open_sync
    from .sqlite_sql import recount

    conn = open_sync(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield SqliteImporter(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        recount(conn)  # rows of every state went in without a per-row count trigger
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    finally:
        conn.close()
