"""queuectl/waiting.py on a real SQLite store: what a wait sees, and how little it reads.

The clock and the store's reads are observed, never slept on: finishes are written straight
through the store while the wait runs as a task."""

import asyncio

import pytest

from queuectl.errors import JobNotFoundError, UsageError
from queuectl.jobs import JobState, NewJob
from queuectl.waiting import FULL_CHECK_S, Batch, JobsNamed, Progress, select, wait_for
from tests.store.helpers import NOW, claim, finish


def new(job_id, batch="b", **fields):
    return NewJob(job_id, "true", max_retries=0, batch=batch, **fields)


async def end(store, job_id, state=JobState.COMPLETED):
    for claimed in await claim(store, 100, now=NOW + 1):
        if claimed.id == job_id:
            await store.finish_jobs([finish(claimed, state)], now=NOW + 2)
        else:
            await store.requeue_interrupted(worker_id=claimed.worker_id,
                                            jobs=[(claimed.id, claimed.run_no)], now=NOW + 2)


class CountingStore:
    """The store, counting the reads a wait makes."""

    def __init__(self, store) -> None:
        self.store, self.counts, self.looks = store, 0, 0

    async def count_by_state(self):
        self.counts += 1
        return await self.store.count_by_state()

    async def job_states(self, ids):
        self.looks += 1
        return await self.store.job_states(ids)

    async def batch_counts(self, batch):
        self.looks += 1
        return await self.store.batch_counts(batch)


async def test_a_wait_ends_when_the_last_job_does(store):
    await store.insert_jobs([new("a"), new("b")], now=NOW)
    seen: list[Progress] = []
    waiting = asyncio.create_task(wait_for(store, JobsNamed(["a", "b"]), timeout=None,
                                           on_progress=seen.append, poll=0.01))
    await end(store, "a")
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await end(store, "b", JobState.DEAD)
    waited = await asyncio.wait_for(waiting, 5)
    assert waited.progress == Progress(1, 1, 0) and not waited.timed_out
    assert seen[0] in (Progress(0, 0, 2), Progress(1, 0, 1)) and seen[-1] == Progress(1, 1, 0)


async def test_an_idle_wait_only_reads_the_counts(store):
    await store.insert_jobs([new("a")], now=NOW)
    spy = CountingStore(store)
    clock = [0.0]
    waited = await wait_for(spy, JobsNamed(["a"]), timeout=FULL_CHECK_S * 3 - 0.5, poll=0.001,
                            clock=lambda: clock.__setitem__(0, clock[0] + 0.25) or clock[0])
    assert waited.timed_out and waited.progress == Progress(0, 0, 1)
    # about 20 ticks of the fake clock: each read the O(1) counts; the job itself was looked at
    # only at the start, every FULL_CHECK_S, and once more at the deadline
    assert spy.counts >= 15 and spy.looks <= 5


async def test_a_batch_includes_jobs_added_while_waiting(store):
    await store.insert_jobs([new("a")], now=NOW)
    waiting = asyncio.create_task(wait_for(store, Batch("b"), timeout=None, poll=0.01))
    await store.insert_jobs([new("late")], now=NOW)
    await end(store, "a")
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await end(store, "late")
    assert (await asyncio.wait_for(waiting, 5)).progress == Progress(2, 0, 0)


async def test_a_job_purged_while_waited_for_counts_as_dead(store):
    await store.insert_jobs([new("a")], now=NOW)
    selection = JobsNamed(["a"])
    assert await selection.progress(store) == Progress(0, 0, 1)
    await end(store, "a")
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 10, limit=10) == 1
    assert await selection.progress(store) == Progress(0, 1, 0)


async def test_timeout_zero_looks_once(store):
    await store.insert_jobs([new("a"), new("b")], now=NOW)
    await end(store, "a")
    waited = await wait_for(store, JobsNamed(["a", "b"]), timeout=0)
    assert waited.timed_out and waited.progress == Progress(1, 0, 1)


async def test_selection_rules(store):
    await store.insert_jobs([new("a", queue="q"), new("b", batch="other")], now=NOW)
    await end(store, "b")
    with pytest.raises(JobNotFoundError, match="'nope'"):
        await select(store, ids=["a", "nope"])
    with pytest.raises(JobNotFoundError, match="no job in batch 'none'"):
        await select(store, batch="none")
    with pytest.raises(UsageError):
        await select(store, ids=["a"], batch="b")
    everything = await select(store)
    assert isinstance(everything, JobsNamed) and everything.ids == ["a"]  # b had finished
    assert (await select(store, queue="other-queue")).ids == []
    assert await (await select(store, batch="other")).progress(store) == Progress(1, 0, 0)
