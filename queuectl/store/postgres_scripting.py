"""PostgreSQL verbs of Part 2's scripting commands: what `wait` watches and what `purge` and
the retention service delete. A mixin of PostgresStore (which provides `_fetch`/`_fetchrow`,
retried through connection loss); SQL only, no asyncpg import of its own."""

from collections.abc import Sequence
from typing import Any

from ..jobs import FINISHED_STATES, STATES, Job, JobState
from .rows import JOB_COLUMNS, job_from_row

GET_JOBS = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])"
JOB_STATES = "SELECT id, state FROM jobs WHERE id = ANY($1::text[])"
BATCH_COUNTS = "SELECT state, count(*) FROM jobs WHERE batch = $1 GROUP BY state"
UNFINISHED = ("SELECT id FROM jobs WHERE state IN ('pending', 'failed', 'processing') "
              "{queue} ORDER BY seq")
# One slice of purge: lock up to $3 old finished rows (SKIP LOCKED: never wait on a row a
# `dlq retry` holds), delete them re-checking the state under the lock, and their history.
PURGE = """
WITH picked AS MATERIALIZED (  -- evaluated once: a re-scanned sub-select could exceed LIMIT
    SELECT seq FROM jobs
    WHERE state IN ('completed', 'dead') AND state = $1 AND updated_at < $2 {batch}
    LIMIT $3 FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM jobs j USING picked
    WHERE j.seq = picked.seq AND j.state = $1 AND j.updated_at < $2
    RETURNING j.id
), history AS (
    DELETE FROM attempts a USING gone WHERE a.job_id = gone.id
), edges AS (  -- a dead job may still be listed as waiting for another
    DELETE FROM job_deps d USING gone WHERE d.job_id = gone.id
), pieces AS (  -- streamed output left by a worker that exited (see postgres_steer.py)
    DELETE FROM output_chunks c USING gone WHERE c.job_id = gone.id
)
SELECT count(*) FROM gone
"""
COUNT_PURGEABLE = ("SELECT count(*) FROM jobs WHERE state IN ('completed', 'dead') "
                   "AND state = $1 AND updated_at < $2 {batch}")


class ScriptingVerbs:
    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def _fetchrow(self, query: str, *args: Any) -> Any:
        raise NotImplementedError

    async def get_jobs(self, ids: Sequence[str]) -> list[Job]:
        """The jobs named, in the order given; unknown ids are left out."""
        found = {r[0]: job_from_row(r) for r in await self._fetch(GET_JOBS, list(ids))}
        return [found[i] for i in ids if i in found]

    async def job_states(self, ids: Sequence[str]) -> dict[str, str]:
        return {r[0]: r[1] for r in await self._fetch(JOB_STATES, list(ids))}

    async def batch_counts(self, batch: str) -> dict[str, int]:
        counts = {r[0]: r[1] for r in await self._fetch(BATCH_COUNTS, batch)}
        return {state: int(counts.get(state, 0)) for state in STATES}

    async def unfinished_ids(self, *, queue: str | None = None) -> list[str]:
        if queue is None:
            return [r[0] for r in await self._fetch(UNFINISHED.format(queue=""))]
        return [r[0] for r in await self._fetch(UNFINISHED.format(queue="AND queue = $1"), queue)]

    async def purge_jobs(self, *, state: JobState, before: int, limit: int,
                         batch: str | None = None, dry_run: bool = False) -> int:
        """As SqliteStore.purge_jobs: one slice of at most `limit` finished jobs."""
        if state not in FINISHED_STATES:
            raise ValueError(f"purge_jobs deletes finished jobs only, not {state}")
        if dry_run:
            query = COUNT_PURGEABLE.format(batch="AND batch = $3" if batch is not None else "")
            args = (str(state), before) + ((batch,) if batch is not None else ())
        else:
            query = PURGE.format(batch="AND batch = $4" if batch is not None else "")
            args = (str(state), before, limit) + ((batch,) if batch is not None else ())
        return int((await self._fetchrow(query, *args))[0])
