"""`queuectl wait`: block until selected jobs are all completed or dead.

Cheap enough to leave running: each tick reads the O(1) counts per state (a handful of rows
on either backend) and looks at the selection itself only when those counts moved -- a job
can only finish by changing them -- or every FULL_CHECK_S as a safety net (a purge deleting
as many finished jobs as finished meanwhile leaves them unchanged). Ticks come every POLL_S,
so the last completion is noticed within that; an idle wait costs five reads of five rows a
second, much less than one `status` (which also scans an hour of attempts): benchmarks P8.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .errors import JobNotFoundError, UsageError
from .jobs import FINISHED_STATES, Job, JobState

POLL_S = 0.2
FULL_CHECK_S = 10.0  # a look at 10,000 jobs is ~5 ms: this is most of an idle wait's cost
# A job deleted while waited for (a purge racing the wait) was finished, but whether it
# completed is lost: it counts as dead, so a script never takes a loss for a success.
VANISHED = JobState.DEAD


class Progress(NamedTuple):
    completed: int
    dead: int
    unfinished: int

    @property
    def total(self) -> int:
        return self.completed + self.dead + self.unfinished


class Waited(NamedTuple):
    progress: Progress
    timed_out: bool
    selection: "Selection"


class Selection:
    """What a wait watches; `progress` is called once per change, `jobs` once at the end."""

    async def progress(self, store: Any) -> Progress:
        raise NotImplementedError

    async def jobs(self, store: Any) -> list[Job]:
        raise NotImplementedError


class JobsNamed(Selection):
    """A fixed set of jobs: finished ones are remembered, so each look reads only the rest."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(dict.fromkeys(ids))
        self.final: dict[str, str] = {}

    async def progress(self, store: Any) -> Progress:
        open_ids = [i for i in self.ids if i not in self.final]
        states = await store.job_states(open_ids) if open_ids else {}
        for job_id in open_ids:
            state = states.get(job_id, VANISHED)
            if state in FINISHED_STATES:
                self.final[job_id] = state
        dead = sum(1 for s in self.final.values() if s == JobState.DEAD)
        return Progress(len(self.final) - dead, dead, len(self.ids) - len(self.final))

    async def jobs(self, store: Any) -> list[Job]:
        return await store.get_jobs(self.ids)


class Batch(Selection):
    """Every job of a batch, including those added to it while waiting."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def progress(self, store: Any) -> Progress:
        counts = await store.batch_counts(self.name)
        done = counts[JobState.COMPLETED] + counts[JobState.DEAD]
        return Progress(counts[JobState.COMPLETED], counts[JobState.DEAD],
                        sum(counts.values()) - done)

    async def jobs(self, store: Any) -> list[Job]:
        return [job async for job in store.iter_jobs(batch=self.name)]


async def select(store: Any, *, ids: Sequence[str] = (), batch: str | None = None,
                 queue: str | None = None) -> Selection:
    """IDs (each must exist: else JobNotFoundError, nothing waited for), a batch (must have a
    job), or the jobs unfinished right now (of one queue, or all)."""
    if sum(bool(x) for x in (ids, batch, queue)) > 1:
        raise UsageError("give job IDs, --batch or --queue, not several")
    if ids:
        known = await store.job_states(list(ids))
        missing = next((i for i in ids if i not in known), None)
        if missing is not None:
            raise JobNotFoundError(f"no job with id {missing!r}")
        return JobsNamed(ids)
    if batch:
        if not sum((await store.batch_counts(batch)).values()):
            raise JobNotFoundError(f"no job in batch {batch!r}")
        return Batch(batch)
    return JobsNamed(await store.unfinished_ids(queue=queue))


async def wait_for(store: Any, selection: Selection, *, timeout: float | None,
                   on_progress: Callable[[Progress], None] = lambda _: None,
                   poll: float = POLL_S, clock: Callable[[], float] = time.monotonic) -> Waited:
    deadline = None if timeout is None else clock() + timeout
    last_counts, last_look, progress = None, float("-inf"), None
    while True:
        counts = await store.count_by_state()
        now = clock()
        if progress is None or counts != last_counts or now - last_look >= FULL_CHECK_S:
            progress = await selection.progress(store)
            last_counts, last_look = counts, now
            on_progress(progress)
            if not progress.unfinished:
                return Waited(progress, False, selection)
        if deadline is not None and now >= deadline:  # one last look: it may just have ended
            progress = await selection.progress(store)
            on_progress(progress)
            return Waited(progress, bool(progress.unfinished), selection)
        await asyncio.sleep(poll if deadline is None else max(0.0, min(poll, deadline - now)))
