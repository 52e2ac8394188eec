"""PostgreSQL verbs of flow control: queue settings and counts, and the enqueue transaction for
batches with unique keys or dependencies. Mixed into PostgresStore (store/postgres.py), whose
`_run` gives every verb its reconnect-and-retry loop."""

from collections.abc import Sequence
from typing import Any

from ..errors import DuplicateJobError, ScheduleExistsError, ScheduleNotFoundError
from ..jobs import Job, NewJob, QueueInfo, Schedule, queue_infos
from . import deps, rows
from . import postgres_flow_schema as fsql
from . import postgres_schema as sql
from .postgres_conn import asyncpg
from .rows import JOB_COLUMNS, job_from_row


class FlowVerbs:
    """Needs PostgresStore's channel, _run, _fetch, _fetchrow, count_by_state, _first_existing."""

    async def set_queues(self, names: Sequence[str], *, paused: bool | None = None,
                         limit: int | None = None) -> None:
        """Pause/resume or limit queues (created when unknown). Every worker is notified, so
        the change holds from its next claim."""
        names = sorted(set(names))

        async def change(conn, _retrying: bool) -> None:
            async with conn.transaction():
                # The queue rows first, then the table: the order a claim takes them in
                # (queuectl_claim locks limited queues' rows, then updates jobs), so the two
                # can never wait for each other in a circle.
                await conn.execute(fsql.ENSURE_QUEUES, names)
                if paused is not None:
                    await conn.execute(fsql.SET_PAUSED, names, paused)
                if limit is not None:
                    await conn.execute(fsql.SET_LIMIT, names, limit)
                await conn.execute(fsql.LOCK_JOBS)
                await conn.execute(fsql.REGATE, names)
                await conn.execute(sql.NOTIFY, self.channel, "jobs")

        await self._run(change)

    async def list_queues(self) -> list[QueueInfo]:
        counts = await self._fetch(fsql.QUEUE_COUNTS)
        return queue_infos([tuple(r) for r in counts], await self.queue_settings())

    async def queue_settings(self) -> list[tuple[str, bool, int]]:
        return [(r[0], bool(r[1]), int(r[2])) for r in await self._fetch(fsql.QUEUE_SETTINGS)]

    async def dependency_edges(self) -> list[tuple[str, str]]:
        return [tuple(r) for r in await self._fetch(fsql.LIST_EDGES)]

    async def runnable_counts(self, queues: Sequence[str] | None) -> tuple[int, int]:
        """rows.runnable_counts: what a --drain worker serving `queues` could still run."""
        paused = {r[0] for r in await self._fetch(fsql.PAUSED)}

        async def one_queue(name: str) -> tuple[int, int]:
            return tuple(await self._fetchrow(fsql.QUEUE_RUNNABLE, name))

        return await rows.runnable_counts(self, queues, paused, one_queue)

    # -- schedules ----------------------------------------------------------------------

    async def add_schedule(self, schedule: Schedule) -> None:
        status = await self._run(lambda conn, _: conn.execute(
            fsql.ADD_SCHEDULE, *rows.schedule_values(schedule)))
        if status.endswith(" 0"):
            raise ScheduleExistsError(f"a schedule named {schedule.name!r} already exists")

    async def remove_schedule(self, name: str) -> None:
        status = await self._run(lambda conn, _: conn.execute(fsql.REMOVE_SCHEDULE, name))
        if status.endswith(" 0"):
            raise ScheduleNotFoundError(f"no schedule named {name!r}")

    async def list_schedules(self) -> list[Schedule]:
        query = fsql.LIST_SCHEDULES.format(columns=rows.SCHEDULE_COLUMNS)
        return [rows.schedule_from_row(r) for r in await self._fetch(query)]

    async def due_schedules(self, *, now: int) -> list[Schedule]:
        query = fsql.DUE_SCHEDULES.format(columns=rows.SCHEDULE_COLUMNS)
        return [rows.schedule_from_row(r) for r in await self._fetch(query, now)]

    async def fire_schedule(self, *, name: str, expected: int, next_run: int | None,
                            job: NewJob, now: int) -> bool:
        """One run, exactly once: the compare-and-set's row lock makes a concurrent firer wait,
        and its compare then fails. A retry after a lost commit sees the moved next_run."""
        from .postgres import insert_row

        (job,) = await self._default_retries([job])
        args = self._insert_args([insert_row(job, now)], now)

        async def fire(conn, _retrying: bool) -> bool:
            async with conn.transaction():
                moved = await conn.execute(fsql.MOVE_SCHEDULE, name, next_run, job.run_at,
                                           expected)
                if moved.endswith(" 0"):
                    return False
                if await conn.fetchval(fsql.JOB_EXISTS, job.id) is None:
                    await conn.execute(sql.INSERT_JOBS, *args)
                return True

        return await self._run(fire)

    async def _insert_linked(self, jobs: Sequence[NewJob], args: tuple, now: int) -> dict[int, Job]:
        """The enqueue transaction when the batch has unique keys or `after`: lock the stored
        dependencies (a dependency finishing meanwhile waits for us, and then sees our
        edges), insert what no unfinished job's key blocks, link. Returns position -> the job
        as stored, for holders and for jobs with `after`."""

        async def insert(conn, retrying: bool) -> dict[int, Job]:
            try:
                async with conn.transaction():
                    wanted = deps.stored_dependencies(jobs)
                    stored = {r[0]: r[1] for r in await conn.fetch(fsql.LOCK_DEPENDENCIES, wanted)}
                    inserted = set((await conn.fetchrow(sql.INSERT_JOBS_IDS, *args))[0] or ())
                    holders = await _holders(conn, jobs, inserted)
                    skipped = {p: h.id for p, h in holders.items()}
                    await _link(conn, deps.plan(jobs, skipped, stored), now)
                    return holders | await _reread(conn, jobs, holders)
            except asyncpg.UniqueViolationError:
                landed = await conn.fetch(sql.OUR_INSERT_LANDED, args[0], args[1], now)
                if not (retrying and landed):
                    raise DuplicateJobError(await self._first_existing(
                        conn, [j.id for j in jobs])) from None
                return await _answer_of_committed_insert(conn, jobs, {r[0] for r in landed})

        return await self._run(insert)


async def _answer_of_committed_insert(conn: Any, jobs: Sequence[NewJob],
                                      landed: set[str]) -> dict[int, Job]:
    """A retry found our own rows: the first try committed (insert, skips and links in one
    transaction) and only its answer was lost. Any duplicate id would have rolled it all back,
    so rebuild the answer from what it stored instead of reporting our rows as duplicates."""
    holders = await _holders(conn, jobs, landed)
    return holders | await _reread(conn, jobs, holders)


async def _holders(conn: Any, jobs: Sequence[NewJob], inserted: set[str]) -> dict[int, Job]:
    holders = {}
    query = fsql.HOLDER.format(columns=JOB_COLUMNS)
    for position, job in enumerate(jobs):
        if job.id not in inserted and job.unique_key is not None:
            holders[position] = job_from_row(await conn.fetchrow(query, job.unique_key))
    return holders


async def _link(conn: Any, links: list[deps.Link], now: int) -> None:
    buried = [(link.job_id, link.failed) for link in links if link.failed is not None]
    live = [link for link in links if link.failed is None]
    if buried:
        await conn.execute(fsql.BURY, [b[0] for b in buried], [b[1] for b in buried], now)
    edges = [(dep, link.job_id) for link in live for dep in link.open_deps]
    if live:
        await conn.execute(fsql.ADD_EDGES, [e[0] for e in edges], [e[1] for e in edges])
        await conn.execute(fsql.MARK_DEPENDENCIES, list({e[0] for e in edges}))
        await conn.execute(fsql.SET_WAITING, [link.job_id for link in live],
                           [len(link.open_deps) for link in live])


async def _reread(conn: Any, jobs: Sequence[NewJob], holders: dict[int, Job]) -> dict[int, Job]:
    positions = [p for p, job in enumerate(jobs) if job.after and p not in holders]
    if not positions:
        return {}
    rows = await conn.fetch(fsql.GET_JOBS.format(columns=JOB_COLUMNS), [jobs[p].id for p in positions])
    by_id = {r[0]: job_from_row(r) for r in rows}
    return {p: by_id[jobs[p].id] for p in positions}
