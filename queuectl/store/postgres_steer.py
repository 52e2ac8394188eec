"""PostgreSQL: cancelling jobs and a running attempt's streamed output.

A mixin of PostgresStore (store/postgres.py): it uses the store's `_run` (reconnect and
retry), `_fetch` and `channel`. No asyncpg import here: the store passes connections in.
"""

from collections.abc import Sequence
from typing import Any

from ..errors import JobNotFoundError, WrongStateError
from ..jobs import Chunk, Job, JobState, OutputWrite
from .rows import JOB_COLUMNS, job_from_row

LOCK_NAMED = """
SELECT id, state, cancel_requested, last_error, updated_at FROM jobs
WHERE id = ANY($1::text[]) ORDER BY seq FOR UPDATE
"""
LOCK_UNFINISHED = """
SELECT id FROM jobs WHERE {column} = $1 AND state IN ('pending', 'failed', 'processing')
ORDER BY seq FOR UPDATE
"""
# Waiting jobs go dead at once; running ones are flagged, and every worker hears 'cancel'
# (NOTIFY is delivered at commit): the one running such a job heartbeats at once.
CANCEL = """
WITH waiting AS (
    UPDATE jobs SET state = 'dead', last_error = 'cancelled', updated_at = $2
    WHERE id = ANY($1::text[]) AND state IN ('pending', 'failed')
), running AS (
    UPDATE jobs SET cancel_requested = true, updated_at = $2
    WHERE id = ANY($1::text[]) AND state = 'processing'
    RETURNING id
)
SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify($3, 'cancel') END FROM running
"""
JOBS_NAMED = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[]) ORDER BY seq"

# A hard stop interrupted attempts of jobs being cancelled: they go dead, never requeued.
_PAIRS = "unnest($2::text[], $3::int[]) AS r (rid, rrun)"
_HELD = """
WHERE j.id = r.rid AND j.run_no = r.rrun AND j.state = 'processing' AND j.worker_id = $1
"""
LOCK_INTERRUPTED = f"SELECT 1 FROM jobs j, {_PAIRS} {_HELD} FOR UPDATE OF j"
RECORD_CANCELLED = f"""
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, error)
SELECT j.id, j.run_no, j.worker_id, COALESCE(j.started_at, $4), $4, false, 'cancelled'
FROM jobs j, {_PAIRS} {_HELD} AND j.cancel_requested
ON CONFLICT (job_id, n) DO NOTHING
"""
END_CANCELLED = f"""
UPDATE jobs j SET state = 'dead', last_error = 'cancelled', exit_code = NULL, updated_at = $4,
       worker_id = NULL, started_at = NULL, pid = NULL, cancel_requested = false
FROM {_PAIRS} {_HELD} AND j.cancel_requested
"""
DROP_INTERRUPTED = """
DELETE FROM output_chunks c USING unnest($1::text[], $2::int[]) AS r (rid, rrun)
WHERE c.job_id = r.rid AND c.run_no = r.rrun
"""

# Streamed output: pieces land only while the attempt is still the writer's; a retry after
# a lost answer writes nothing twice (the unique key).
WRITE_CHUNKS = """
INSERT INTO output_chunks (job_id, run_no, stream, pos, data)
SELECT c.id, c.run_no, c.stream, c.pos, c.data
FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bigint[], $6::bytea[])
     WITH ORDINALITY AS c (id, worker, run_no, stream, pos, data, ord)
JOIN jobs j ON j.id = c.id AND j.state = 'processing' AND j.worker_id = c.worker
           AND j.run_no = c.run_no
ORDER BY c.ord
ON CONFLICT (job_id, run_no, stream, pos) DO NOTHING
"""
TRIM_CHUNKS = """
DELETE FROM output_chunks c
USING unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::bigint[])
      AS t (id, run_no, stream, head, cut)
WHERE c.job_id = t.id AND c.run_no = t.run_no AND c.stream = t.stream
  AND c.pos >= t.head AND c.pos + octet_length(c.data) <= t.cut
"""
READ_CHUNKS = """
SELECT seq, stream, pos, data FROM output_chunks
WHERE job_id = $1 AND run_no = $2 AND seq > $3 ORDER BY seq LIMIT $4
"""


class PostgresSteering:
    """Needs PostgresStore's `channel`, `_run(fn)` and `_fetch(query, *args)`."""

    async def cancel_jobs(self, *, ids: Sequence[str] | None = None, batch: str | None = None,
                          queue: str | None = None, now: int) -> list[Job]:
        """Waiting jobs -> dead (cancelled); running ones flagged for their worker, which
        NOTIFY wakes. Named ids must all exist unfinished, or nothing changes."""
        column, value = ("batch", batch) if batch is not None else ("queue", queue)

        async def cancel(conn, retrying: bool) -> list[Any]:
            async with conn.transaction():
                if ids is not None:
                    chosen = list(dict.fromkeys(ids))
                    _check_cancellable(await conn.fetch(LOCK_NAMED, chosen), chosen,
                                       now if retrying else None)
                else:
                    chosen = [r[0] for r in await conn.fetch(
                        LOCK_UNFINISHED.format(column=column), value)]
                await conn.execute(CANCEL, chosen, now, self.channel)
                return await conn.fetch(JOBS_NAMED, chosen)

        return [job_from_row(row) for row in await self._run(cancel)]

    async def output_chunks(self, job_id: str, run_no: int, *, after: int = 0,
                            limit: int = 1000) -> list[Chunk]:
        """Streamed pieces of one attempt stored after `after` (a Chunk.seq), in order."""
        rows = await self._fetch(READ_CHUNKS, job_id, run_no, after, limit)
        return [Chunk(r[1], r[2], bytes(r[3]), r[0]) for r in rows]


async def write_output(conn: Any, output: OutputWrite) -> None:
    """Pieces and trims, before the finishes of the same transaction."""
    if output.chunks:
        rows = [(job_id, worker, run_no, c.stream, c.pos, c.data)
                for job_id, worker, run_no, c in output.chunks]
        await conn.execute(WRITE_CHUNKS, *[list(col) for col in zip(*rows, strict=True)])
    if output.trims:
        await conn.execute(TRIM_CHUNKS, *[list(col) for col in zip(*output.trims, strict=True)])


async def drop_output(conn: Any, drops: Sequence[tuple[str, int]]) -> None:
    if drops:
        await conn.execute(DROP_INTERRUPTED, [d[0] for d in drops], [d[1] for d in drops])


async def requeue_cancelled(conn: Any, worker_id: str, ids: list[str], runs: list[int],
                            now: int) -> None:
    """Inside the requeue's transaction, before it: interrupted attempts of cancelled jobs end
    dead, and no interrupted attempt leaves pieces (its run_no goes to the next attempt)."""
    await conn.execute(LOCK_INTERRUPTED, worker_id, ids, runs)
    await conn.execute(RECORD_CANCELLED, worker_id, ids, runs, now)
    await conn.execute(END_CANCELLED, worker_id, ids, runs, now)
    await conn.execute(DROP_INTERRUPTED, ids, runs)


def _check_cancellable(rows: Sequence[Any], ids: Sequence[str], retried_at: int | None) -> None:
    found = {r[0]: r for r in rows}
    for job_id in ids:
        row = found.get(job_id)
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        ours = retried_at is not None and row[3] == "cancelled" and row[4] == retried_at
        if row[1] in (JobState.COMPLETED, JobState.DEAD) and not ours:
            raise WrongStateError(f"job {job_id!r} is already {row[1]}")
