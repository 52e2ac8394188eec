"""migrate-store: copy every job, its attempt history with output, and the config from one
store to another (SQLite -> PostgreSQL, back, or between two of either).

Reading goes through the Store protocol only, so any backend can be the source. Writing needs
rows as they are (states, attempts, run numbers, timestamps), which the protocol does not
offer, so each target backend has a bulk importer here, all in one transaction: the copy
lands whole or not at all. Rules (DECISIONS-worthy, documented in docs/POSTGRES.md):

- the target must hold no job (config keys are overwritten by the source's);
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
from ..jobs import Job
from .base import Store

CHUNK = 500


@dataclass(frozen=True)
class Copied:
    jobs: int
    attempts: int
    config: int


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
    jobs = attempts = 0
    async with _importer(target) as write:
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
    for key, value in config.items():
        await target.set_config(key, value)
    return Copied(jobs, attempts, len(config))


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
async def _importer(target: Store) -> AsyncIterator[Callable[[Sequence[Job], Sequence[tuple]], Any]]:
    importing = getattr(target, "importing", None)
    if importing is not None:  # PostgreSQL
        async with importing() as importer:
            yield importer.write
        return
    path = getattr(target, "path", None)
    if path is None:
        raise UsageError(f"migrate-store cannot write to {target.url}")
    async with _sqlite_importer(path) as write:
        yield write


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


@contextlib.asynccontextmanager
async def _sqlite_importer(path) -> AsyncIterator[Callable[..., Any]]:
    """A synchronous connection in one BEGIN IMMEDIATE transaction (the store file is local)."""
    import sqlite3

    from ..errors import StoreError
    from .rows import part2_values
    from .sqlite_schema import describe, open_sync
    from .sqlite_sql import RECOUNT

    conn = open_sync(path)
    try:
        conn.execute("BEGIN IMMEDIATE")

        async def write(jobs: Sequence[Job], attempts: Sequence[tuple]) -> None:
            conn.executemany(SQLITE_JOB, [
                (j.id, j.command, j.state.value, j.attempts, j.max_retries, j.priority, j.run_at,
                 j.timeout, j.exit_code, j.last_error, j.created_at, j.updated_at, j.worker_id,
                 j.started_at, j.run_no, *part2_values(j)) for j in jobs])
            conn.executemany(SQLITE_ATTEMPT, [(*a[:5], int(a[5]), *a[6:]) for a in attempts])

        try:
            yield write
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute(RECOUNT)  # rows of every state went in without a per-row count trigger
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    finally:
        conn.close()
