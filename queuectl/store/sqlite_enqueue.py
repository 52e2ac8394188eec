"""Enqueue on SQLite without asyncio: the one-shot `queuectl enqueue` path, where start-up time
is most of the cost (see benchmarks P4/P5). The same transaction as SqliteStore.insert_jobs."""

import sqlite3
from pathlib import Path

from ..errors import DuplicateJobError, StoreError
from ..jobs import Job, NewJob
from . import doorbell
from .rows import inserted_jobs
from .sqlite_schema import describe, open_sync
from .sqlite_sql import first_existing, insert_new_jobs, write_transaction

BIG_INSERT = 5_000
CACHE_KIB_PER_JOB = 1  # ~260 bytes of table and index pages a job, with room to spare


def insert_jobs(path: Path, jobs: list[NewJob], *, now: int,
                records: bool = True) -> list[Job | NewJob]:
    """All or nothing, in one transaction; jobs without max_retries take config max-retries.
    records=False: the NewJob itself where the job was inserted as given (see
    cli/enqueue_core.insert)."""
    conn = open_sync(path)
    if len(jobs) > BIG_INSERT:
        # The default 2 MB page cache spills a 100,000-job transaction into the WAL half way
        # and reads it back for every index it updates: room for it all halves the I/O.
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB_PER_JOB * len(jobs) // 1000 * 1000}")
    try:
        try:
            retries, workers, stored = write_transaction(
                conn, lambda c: insert_new_jobs(c, jobs=jobs, now=now))
        except sqlite3.IntegrityError:
            raise DuplicateJobError(first_existing(conn, [j.id for j in jobs])) from None
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    finally:
        conn.close()
    doorbell.ring(str(path), workers)
    if not records:
        return [stored.get(i) or job for i, job in enumerate(jobs)]
    return inserted_jobs(jobs, default_retries=retries, now=now, stored=stored)
