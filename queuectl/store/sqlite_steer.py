"""SQLite: cancelling jobs and a running attempt's streamed output (the SQL and the bodies
that the store runs inside its transactions, see store/sqlite.py)."""

import sqlite3
from collections.abc import Sequence
from typing import Any

from ..errors import JobNotFoundError, WrongStateError
from ..jobs import Chunk, Job, JobState, OutputWrite
from . import sqlite_flow as flow
from .sqlite_sql import JOB_COLUMNS, job_from_row

GUARD = "id = :id AND state = 'processing' AND worker_id = :worker AND run_no = :run_no"
UNFINISHED = "('pending', 'failed', 'processing')"

# A cancel: waiting jobs go dead at once; a running one is flagged for its worker.
CANCEL_WAITING = """
UPDATE jobs SET state = 'dead', last_error = 'cancelled', updated_at = :now
WHERE id = :id AND state IN ('pending', 'failed')
"""
CANCEL_RUNNING = """
UPDATE jobs SET cancel_requested = 1, updated_at = :now
WHERE id = :id AND state = 'processing' RETURNING worker_id
"""
CANCELLED_IDS = "SELECT id FROM jobs INDEXED BY jobs_cancel WHERE worker_id = ? AND cancel_requested = 1"

# A hard stop interrupted an attempt whose cancel the worker had not heard of yet: the job
# still goes dead (never rerun by itself), with the attempt recorded as cancelled.
RECORD_CANCELLED = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, error)
SELECT id, run_no, worker_id, COALESCE(started_at, :now), :now, 0, 'cancelled'
FROM jobs WHERE {GUARD} AND cancel_requested = 1
"""
END_CANCELLED = f"""
UPDATE jobs SET state = 'dead', last_error = 'cancelled', exit_code = NULL, updated_at = :now,
       worker_id = NULL, started_at = NULL, pid = NULL, cancel_requested = 0
WHERE {GUARD} AND cancel_requested = 1
"""

# Streamed output: pieces are written only while the attempt is still the writer's.
WRITE_CHUNK = f"""
INSERT OR IGNORE INTO output_chunks (job_id, run_no, stream, pos, data)
SELECT id, run_no, :stream, :pos, :data FROM jobs WHERE {GUARD}
"""
TRIM_CHUNKS = """
DELETE FROM output_chunks WHERE job_id = ? AND run_no = ? AND stream = ?
  AND pos >= ? AND pos + length(data) <= ?
"""
DROP_CHUNKS = "DELETE FROM output_chunks WHERE job_id = ? AND run_no = ?"
DROP_JOB_OUTPUT = "DELETE FROM output_chunks WHERE job_id = ?"  # purge: every attempt's pieces
READ_CHUNKS = """
SELECT seq, stream, pos, data FROM output_chunks INDEXED BY output_chunks_read
WHERE job_id = ? AND run_no = ? AND seq > ? ORDER BY seq LIMIT ?
"""


def cancel_body(conn: sqlite3.Connection, *, ids: Sequence[str] | None, where: str,
                value: str | None, now: int) -> tuple[list[Job], list[str]]:
    """(the jobs after the cancel, the workers running some of them). With ids, every one
    must exist and be unfinished, or nothing changes."""
    if ids is not None:
        chosen = list(dict.fromkeys(ids))
        _check_cancellable(conn, chosen)
    else:
        chosen = [r[0] for r in conn.execute(
            f"SELECT id FROM jobs WHERE {where} = ? AND state IN {UNFINISHED} ORDER BY seq",
            (value,))]
    params = [{"id": job_id, "now": now} for job_id in chosen]
    conn.executemany(CANCEL_WAITING, params)
    holders = {row[0] for p in params for row in conn.execute(CANCEL_RUNNING, p)}
    flow.resolve_dependents(conn, chosen, now)  # jobs waiting on a cancelled one die with it
    jobs = [job_from_row(conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?",
                                      (job_id,)).fetchone()) for job_id in chosen]
    return jobs, sorted(holders)


def _check_cancellable(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    for job_id in ids:
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        if row[0] in (JobState.COMPLETED, JobState.DEAD):
            raise WrongStateError(f"job {job_id!r} is already {row[0]}")


def write_output(conn: sqlite3.Connection, output: OutputWrite) -> None:
    """Pieces and trims before the finishes of the same commit (a final piece needs the
    attempt still running); call drop_output after them."""
    conn.executemany(WRITE_CHUNK, [
        {"id": job_id, "worker": worker, "run_no": run_no, "stream": chunk.stream,
         "pos": chunk.pos, "data": chunk.data}
        for job_id, worker, run_no, chunk in output.chunks])
    conn.executemany(TRIM_CHUNKS, output.trims)


def drop_output(conn: sqlite3.Connection, output: OutputWrite) -> None:
    conn.executemany(DROP_CHUNKS, output.drops)


def requeue_cancelled(conn: sqlite3.Connection, params: list[dict[str, Any]]) -> None:
    """Before a requeue: interrupted attempts of cancelled jobs end dead instead, and no
    interrupted attempt leaves pieces behind (its run_no is given to the next attempt)."""
    conn.executemany(RECORD_CANCELLED, params)
    conn.executemany(END_CANCELLED, params)
    conn.executemany(DROP_CHUNKS, [(p["id"], p["run_no"]) for p in params])
    flow.resolve_dependents(conn, [p["id"] for p in params], params[0]["now"] if params else 0)


def chunks_from_rows(rows: Sequence[Sequence[Any]]) -> list[Chunk]:
    return [Chunk(stream, pos, bytes(data), seq) for seq, stream, pos, data in rows]
