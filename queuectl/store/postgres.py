"""The PostgreSQL backend, on asyncpg: many workers on many machines share one database.

The only module that imports asyncpg (an optional extra). Semantics mirror store/sqlite.py
verb for verb; what differs is how it scales:

- claims: one UPDATE ... WHERE seq IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING;
- completions: one statement per group commit (unnest arrays), guarded like SQLite's GUARD;
- wake-ups: LISTEN/NOTIFY on a channel per schema ('jobs' / 'stop'); the engine still polls;
- counts: per-state counter rows sharded by backend, updated once per statement;
- connection loss: every verb reconnects through the pool and retries for a while; writes are
  idempotent on retry (guards, upserts), and an insert or a claim whose commit was ambiguous is
  recognised instead of repeated, so a finished job's outcome is never lost.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from typing import Any, TypeVar

from ..errors import (
    DuplicateJobError,
    JobNotFoundError,
    StoreError,
    UsageError,
    WrongStateError,
)
from ..jobs import (
    STATE_NAMED,
    STATES,
    Attempt,
    Beat,
    Finish,
    Job,
    JobState,
    NewJob,
    OutputWrite,
    WorkerInfo,
)
from . import postgres_flow_schema as fsql
from . import postgres_schema as sql
from . import postgres_steer as steer
from .base import Metrics, Output, Rescued
from .deps import waiting_counts
from .paging import pages
from .postgres_conn import (  # raises the install hint first when asyncpg is missing
    ListenSubscription,
    Location,
    asyncpg,
    channel_for,
    keep_session,
    migrate,
    reason,
)
from .postgres_flow import FlowVerbs
from .postgres_retry import RETRY_WINDOW_S, quiet_pool_log, run_retrying
from .postgres_scripting import ScriptingVerbs
from .postgres_views import PostgresViews
from .rows import JOB_COLUMNS, RUN_NO, claim_order, inserted_job, job_from_row, part2_values, schedule_values

T = TypeVar("T")
CLAIM = fsql.CLAIM.format(columns=JOB_COLUMNS)

POOL_MAX = 5  # claim loop, flusher, heartbeat, rescuer, drain check; plus one LISTEN connection
FINISH_RETRY_WINDOW_S = 600.0  # finished outcomes get longer: losing one means a re-run


# -- the store ----------------------------------------------------------------------------


class PostgresStore(PostgresViews, FlowVerbs, ScriptingVerbs, steer.PostgresSteering):
    def __init__(self, location: Location, pool: "asyncpg.Pool", channel: str) -> None:
        self.location = location
        self.url = location.display
        self.channel = channel
        self._pool = pool
        self._held: dict[str, set[tuple[str, int]]] = {}  # claims handed out, per worker id

    @classmethod
    async def open(cls, url: str) -> "PostgresStore":
        location = Location(url)
        quiet_pool_log()
        try:
            pool = await asyncpg.create_pool(
                min_size=1, max_size=POOL_MAX, reset=keep_session, **location.connect_kwargs())
        except (asyncpg.PostgresError, OSError, TimeoutError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {location.where}: "
                             f"{reason(exc)}") from None
        except ValueError as exc:  # asyncpg's DSN parser
            raise UsageError(f"bad PostgreSQL URL: {exc}") from None
        try:  # retried like any verb: a connection killed during the migration check
            schema, database = await run_retrying(
                pool, lambda conn, _: migrate(conn, location), window=RETRY_WINDOW_S,
                url=location.display)
        except BaseException:
            pool.terminate()
            raise
        return cls(location, pool, channel_for(database, schema))

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), 5)
        except (TimeoutError, asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            self._pool.terminate()

    # -- primitives ---------------------------------------------------------------------

    async def _run(self, fn: Callable[[Any, bool], Awaitable[T]], *,
                   window: float = RETRY_WINDOW_S) -> T:
        """fn(conn, retrying) on a pooled connection; reconnect and retry transient failures.

        Every fn is safe to run again after an ambiguous failure (the commit may have landed):
        that is what `retrying` is for."""
        return await run_retrying(self._pool, fn, window=window, url=self.url)

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        return await self._run(lambda conn, _: conn.fetch(query, *args))

    async def _fetchrow(self, query: str, *args: Any) -> Any:
        return await self._run(lambda conn, _: conn.fetchrow(query, *args))

    # -- jobs ---------------------------------------------------------------------------

    async def insert_jobs(self, jobs: Sequence[NewJob], *, now: int) -> list[Job]:
        """All or nothing; a job without max_retries takes config max-retries."""
        if not jobs:
            return []
        jobs = await self._default_retries(jobs)
        rows = [insert_row(job, now) for job in jobs]
        args = self._insert_args(rows, now)
        ids, commands = list(args[0]), list(args[1])
        if any(job.unique_key is not None or job.after for job in jobs):
            stored = await self._insert_linked(jobs, args, now)
            return [stored.get(i) or inserted_job(job, job.max_retries, row[4], now)
                    for i, (job, row) in enumerate(zip(jobs, rows, strict=True))]

        async def insert(conn, retrying: bool) -> None:
            try:
                await conn.execute(sql.INSERT_JOBS, *args)
            except asyncpg.UniqueViolationError:
                if retrying and len(await conn.fetch(
                        sql.OUR_INSERT_LANDED, ids, commands, now)) == len(set(ids)):
                    return  # our first try committed; only its answer was lost
                raise DuplicateJobError(await self._first_existing(conn, ids)) from None

        await self._run(insert)
        return [inserted_job(job, job.max_retries, row[4], now)
                for job, row in zip(jobs, rows, strict=True)]

    async def _default_retries(self, jobs: Sequence[NewJob]) -> list[NewJob]:
        """Jobs without max_retries take config max-retries."""
        if all(job.max_retries is not None for job in jobs):
            return list(jobs)
        from ..settings import Settings

        stored = await self._fetch(sql.GET_MAX_RETRIES)
        default = Settings.from_stored({"max-retries": stored[0][0]} if stored else {})
        return [job.with_default_retries(default.max_retries) for job in jobs]

    def _insert_args(self, rows: Sequence[tuple], now: int) -> tuple:
        """INSERT_JOBS's arguments for rows of insert_row."""
        columns = [list(c) for c in zip(*rows, strict=True)]
        return (*columns[:6], now, self.channel, *columns[6:])

    @staticmethod
    async def _first_existing(conn, ids: list[str]) -> str:
        existing = {r[0] for r in await conn.fetch(sql.EXISTING_IDS, ids)}
        for job_id in ids:
            if job_id in existing:
                return f"a job with id {job_id!r} already exists"
        return "a job with this id already exists"

    async def claim_jobs(self, *, worker_id: str, limit: int, now: int,
                         queues: Sequence[str] | None = None) -> list[Job]:
        held = self._held.setdefault(worker_id, set())

        async def claim(conn, retrying: bool) -> list[Any]:
            if retrying:  # a claim may have committed with its answer lost: hand those out
                lost = [r for r in await conn.fetch(sql.HELD_BY, worker_id)
                        if (r[0], r[RUN_NO]) not in held]
                if lost:
                    return lost
            served = None if queues is None else list(queues)
            return await conn.fetch(CLAIM, worker_id, now, limit, served)

        rows = await self._run(claim)
        rows.sort(key=claim_order)
        jobs = [job_from_row(r) for r in rows]
        held.update((j.id, j.run_no) for j in jobs)
        return jobs

    def _release(self, worker_id: str, jobs: Collection[tuple[str, int]]) -> None:
        held = self._held.get(worker_id)
        if held is not None:
            held.difference_update(jobs)

    async def finish_jobs(self, finishes: Sequence[Finish], *, now: int,
                          output: OutputWrite | None = None) -> int:
        """Group commit: one statement; stale finishes (guard fails) are skipped. Retried
        through connection loss: a retry after a commit whose answer was lost changes nothing.
        Streamed output goes in the same transaction (then three statements)."""
        if not finishes and output is None:
            return 0
        retry = any(f.transition.state == JobState.FAILED for f in finishes)
        args = (*finish_columns(finishes), now, retry, self.channel) if finishes else ()

        async def finish(conn, _: bool) -> int:
            if output is None:
                return (await conn.fetchrow(sql.FINISH, *args))[0]
            async with conn.transaction():
                await steer.write_output(conn, output)
                done = (await conn.fetchrow(sql.FINISH, *args))[0] if finishes else 0
                await steer.drop_output(conn, output.drops)
                return done

        done = await self._run(finish, window=FINISH_RETRY_WINDOW_S)
        for f in finishes:
            self._release(f.worker_id, [(f.job_id, f.run_no)])
        return done

    async def requeue_interrupted(
        self, *, worker_id: str, jobs: Collection[tuple[str, int]], now: int
    ) -> int:
        jobs = list(jobs)
        if not jobs:
            return 0
        ids, runs = [i for i, _ in jobs], [n for _, n in jobs]

        async def requeue(conn, _: bool) -> Any:
            async with conn.transaction():
                await steer.requeue_cancelled(conn, worker_id, ids, runs, now)
                return await conn.fetchrow(sql.REQUEUE, worker_id, ids, runs, now, self.channel)

        row = await self._run(requeue)
        self._release(worker_id, jobs)
        return row[0]

    async def rescue_lost_jobs(
        self, *, dead_workers: Collection[tuple[str, int]], now: int
    ) -> list[Rescued]:
        dead = sorted(dead_workers)

        async def rescue(conn, _: bool) -> list[Any]:
            async with conn.transaction():
                if dead:
                    await conn.execute(sql.DELETE_DEAD_WORKERS, [w for w, _ in dead],
                                       [hb for _, hb in dead])
                lost = await conn.fetch(sql.RESCUE, now)
                if lost:
                    await conn.execute(sql.NOTIFY, self.channel, "jobs")
                return lost

        lost = await self._run(rescue)
        return [Rescued(r[0], STATE_NAMED[r[2]], r[1]) for r in lost]

    async def retry_dead(self, ids: Sequence[str] | None, *, now: int) -> list[str]:
        """Dead -> pending with attempts reset; all named jobs must be dead, or nothing changes."""

        async def retry(conn, retrying: bool) -> list[str]:
            async with conn.transaction():
                if ids is None:
                    rows = await conn.fetch(sql.RETRY_ALL_DEAD, now)
                    chosen = [r[0] for r in sorted(rows, key=lambda r: r[1])]
                else:
                    found = {r[0]: r for r in await conn.fetch(sql.LOCK_NAMED, list(ids))}
                    for job_id in ids:
                        row = found.get(job_id)
                        if row is None:
                            raise JobNotFoundError(f"no job with id {job_id!r}")
                        done_by_us = retrying and row[1] == JobState.PENDING and (
                            row[2] == 0 and row[3] == now)
                        if row[1] != JobState.DEAD and not done_by_us:
                            raise WrongStateError(f"job {job_id!r} is {row[1]}, not dead")
                    await conn.execute(sql.RETRY_NAMED, list(ids), now)
                    chosen = list(ids)
                if chosen:
                    await conn.execute(sql.NOTIFY, self.channel, "jobs")
                return chosen

        async def retry_unless_held(conn, retrying: bool) -> list[str]:
            try:
                return await retry(conn, retrying)
            except asyncpg.UniqueViolationError:  # the partial unique index on unique_key
                raise WrongStateError("a unique key of these jobs is held by an unfinished "
                                      "job") from None

        return await self._run(retry_unless_held)

    # -- reading ------------------------------------------------------------------------

    async def get_job(self, job_id: str) -> Job:
        row = await self._fetchrow(sql.GET_JOB, job_id)
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job_from_row(row)

    async def iter_jobs(
        self, *, state: JobState | None = None, limit: int | None = None, chunk: int = 1000,
        batch: str | None = None,
    ) -> AsyncIterator[Job]:
        """Enqueue order, read in chunks by key so a million rows never sit in memory at once."""
        query = sql.page_query(state=state is not None, batch=batch is not None)
        filters = [v for v in (state and str(state), batch) if v is not None]

        def page(after: int, size: int) -> Awaitable[list[Any]]:
            return self._fetch(query, after, size, *filters)

        async for row in pages(page, limit=limit, chunk=chunk):
            yield job_from_row(row)

    async def count_by_state(self) -> dict[str, int]:
        counts = {r[0]: r[1] for r in await self._fetch(sql.COUNTS)}
        return {state: int(counts.get(state, 0)) for state in STATES}

    async def next_due_at(self) -> int | None:
        row = await self._fetchrow(sql.NEXT_DUE)
        return row[0] if row else None

    async def attempts(self, job_id: str) -> list[Attempt]:
        return [Attempt(*row) for row in await self._fetch(sql.ATTEMPTS, job_id)]

    async def output(self, job_id: str, attempt: int | None) -> Output:
        await self.get_job(job_id)
        if attempt is None:
            row = await self._fetchrow(sql.LATEST_OUTPUT, job_id)
        else:
            row = await self._fetchrow(sql.OUTPUT_OF, job_id, attempt)
        if row is None:
            which = "no finished attempt" if attempt is None else f"no attempt {attempt}"
            raise JobNotFoundError(f"job {job_id!r} has {which}")
        return Output(row[0], row[1] or b"", row[2] or b"")

    async def metrics(self, *, now: int) -> Metrics:
        minute, hour = now - 60_000, now - 3_600_000
        row = await self._fetchrow(sql.METRICS, minute, hour)
        timed = int(row[5])
        p95 = None
        if timed:
            offset = max(0, -(-timed * 95 // 100) - 1)
            p95 = (await self._fetchrow(sql.P95, hour, offset))[0]
        mean = round(row[4], 3) if row[4] is not None else None
        return Metrics(*(int(v) for v in row[:4]), mean, p95)

    # -- config -------------------------------------------------------------------------

    async def get_config(self) -> dict[str, str]:
        return {r[0]: r[1] for r in await self._fetch(sql.GET_CONFIG)}

    async def set_config(self, key: str, value: str) -> None:
        await self._run(lambda conn, _: conn.execute(sql.SET_CONFIG, key, value))

    # -- workers ------------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        await self._run(lambda conn, _: conn.execute(
            sql.REGISTER_WORKER, info.id, info.pid, info.host, info.concurrency,
            info.started_at, info.heartbeat_at, info.running, bool(info.stop_requested)))

    async def heartbeat(self, *, worker_id: str, running: int, now: int) -> Beat | None:
        """stop_requested and the ids of its jobs being cancelled, or None when this worker's
        row is gone (it was presumed dead)."""
        row = await self._fetchrow(sql.HEARTBEAT, now, running, worker_id)
        return None if row is None else Beat(bool(row[0]), tuple(row[1]))

    async def deregister_worker(self, worker_id: str) -> None:
        self._held.pop(worker_id, None)
        await self._run(lambda conn, _: conn.execute(sql.DEREGISTER, worker_id))

    async def list_workers(self) -> list[WorkerInfo]:
        rows = await self._fetch(sql.LIST_WORKERS)
        return [WorkerInfo(*row[:7], stop_requested=bool(row[7])) for row in rows]

    async def request_stop(self) -> list[str]:
        rows = await self._fetch(sql.REQUEST_STOP, self.channel)
        return [r[0] for r in rows]

    async def subscribe(self, worker_id: str, on_wakeup: Callable[[bytes], None]):
        return await ListenSubscription.start(self.location, self.channel, on_wakeup)

    # -- migrate-store ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def importing(self) -> AsyncIterator["Importer"]:
        """One transaction for a whole migrate-store copy: all of it lands, or none."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield Importer(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(f"store {self.url}: {reason(exc)}") from None


class Importer:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def write(self, jobs: Sequence[Job], attempts: Sequence[tuple]) -> None:
        """Jobs as they are (seq follows the order given) and attempt rows (job_id, n,
        worker_id, started_at, finished_at, ok, exit_code, error, duration, stdout, stderr)."""
        if jobs:
            rows = [(j.id, j.command, j.state.value, j.attempts, j.max_retries, j.priority,
                     j.run_at, j.timeout, j.exit_code, j.last_error, j.created_at,
                     j.updated_at, j.worker_id, j.started_at, j.run_no, *part2_values(j))
                    for j in jobs]
            await self._conn.execute(sql.IMPORT_JOBS, *[list(c) for c in zip(*rows, strict=True)])
        if attempts:
            await self._conn.execute(sql.IMPORT_ATTEMPTS,
                                     *[list(c) for c in zip(*attempts, strict=True)])

    async def write_flow(self, flow: Any) -> None:
        """After every job: queue settings (upserted), schedules and `after` edges, with the
        jobs' gated, waiting and has_dependents flags set as the target's own verbs set them."""
        conn = self._conn
        if flow.queues:
            names = [q.name for q in flow.queues]
            await conn.execute(fsql.IMPORT_QUEUES, names, [q.paused for q in flow.queues],
                               [q.limit for q in flow.queues])
            await conn.execute(fsql.REGATE, names)
        await conn.executemany(fsql.ADD_SCHEDULE, [schedule_values(s) for s in flow.schedules])
        if flow.edges:
            waiting = waiting_counts(flow.edges)
            await conn.execute(fsql.ADD_EDGES, *[list(c) for c in zip(*flow.edges, strict=True)])
            await conn.execute(fsql.MARK_DEPENDENCIES, sorted({d for d, _ in flow.edges}))
            await conn.execute(fsql.SET_WAITING, list(waiting), list(waiting.values()))



async def open_postgres(url: str) -> PostgresStore:
    return await PostgresStore.open(url)


# -- row helpers --------------------------------------------------------------------------


def insert_row(job: NewJob, now: int) -> tuple:
    """INSERT_JOBS's per-job values: $1-$6, then the Part 2 columns ($9-$14)."""
    run_at = now if job.run_at is None else job.run_at
    return (job.id, job.command, job.max_retries, job.priority, run_at, job.timeout,
            *part2_values(job))


def finish_columns(finishes: Sequence[Finish]) -> list[list[Any]]:
    rows = []
    for f in finishes:
        result, transition = f.result, f.transition
        rows.append((f.job_id, f.worker_id, f.run_no, transition.state.value, transition.run_at,
                     result.started_at, result.finished_at, result.ok, result.exit_code,
                     result.error, result.duration, result.stdout or None,
                     result.stderr or None))
    return [list(c) for c in zip(*rows, strict=True)]
