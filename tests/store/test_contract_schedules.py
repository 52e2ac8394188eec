"""Schedules in the store, and the scheduler service's run_once called directly, on every
backend: each due run is enqueued exactly once, only the latest missed run after downtime."""

import asyncio

import pytest

from queuectl.errors import ScheduleExistsError, ScheduleNotFoundError
from queuectl.jobs import NewJob, Schedule
from queuectl.maintenance.scheduler import Scheduler
from queuectl.timeutil import parse_iso

from .helpers import ids

T0 = parse_iso("2026-05-06T01:59:00Z")
MINUTE = 60_000


def nightly(name="nightly", cron="0 2 * * *", next_run=parse_iso("2026-05-06T02:00:00Z")):
    template = NewJob("", "backup.sh", max_retries=1, priority=3, queue="ops", cwd="/srv",
                      env={"MODE": "full"}, unique_key=None)
    return Schedule(name, cron, "UTC", template, next_run, None, T0)


def scheduler(store, log=None):
    return Scheduler(store, log=(log.append if log is not None else lambda _: None))


async def test_add_list_remove(store):
    await store.add_schedule(nightly())
    (listed,) = await store.list_schedules()
    assert listed == nightly()
    with pytest.raises(ScheduleExistsError, match="'nightly'"):
        await store.add_schedule(nightly())
    await store.remove_schedule("nightly")
    assert await store.list_schedules() == []
    with pytest.raises(ScheduleNotFoundError):
        await store.remove_schedule("nightly")


async def test_a_due_run_is_enqueued_once_with_its_id_and_batch(store):
    await store.add_schedule(nightly())
    service = scheduler(store)
    assert await service.run_once(T0) == 0  # not due yet
    now = parse_iso("2026-05-06T02:00:00.300Z")
    assert await service.run_once(now) == 1
    assert await service.run_once(now + 500) == 0
    job = await store.get_job("nightly@2026-05-06T02:00:00.000Z")
    assert (job.command, job.batch, job.queue, job.priority, job.cwd, dict(job.env)) == (
        "backup.sh", "nightly", "ops", 3, "/srv", {"MODE": "full"})
    assert job.run_at == parse_iso("2026-05-06T02:00:00Z")
    (listed,) = await store.list_schedules()
    assert (listed.last_run, listed.next_run) == (parse_iso("2026-05-06T02:00:00Z"),
                                                  parse_iso("2026-05-07T02:00:00Z"))


async def test_after_downtime_only_the_latest_missed_run_is_enqueued(store):
    await store.add_schedule(nightly("often", "*/5 * * * *", parse_iso("2026-05-06T02:00:00Z")))
    assert await scheduler(store).run_once(parse_iso("2026-05-09T10:07:00Z")) == 1
    assert await ids(store) == ["often@2026-05-09T10:05:00.000Z"]
    (listed,) = await store.list_schedules()
    assert listed.next_run == parse_iso("2026-05-09T10:10:00Z")


async def test_workers_racing_for_one_run_enqueue_it_once(store):
    from queuectl.store import open_store

    await store.add_schedule(nightly())
    others = [await open_store(store.url) for _ in range(3)]
    try:
        now = parse_iso("2026-05-06T02:00:01Z")
        fired = await asyncio.gather(*[scheduler(s).run_once(now) for s in [store, *others] * 2])
    finally:
        for other in others:
            await other.close()
    assert sum(fired) == 1
    assert await ids(store) == ["nightly@2026-05-06T02:00:00.000Z"]


async def test_a_stale_compare_enqueues_nothing(store):
    await store.add_schedule(nightly())
    job = nightly().run_job(parse_iso("2026-05-06T02:00:00Z"))
    assert not await store.fire_schedule(name="nightly", expected=T0, next_run=T0 + MINUTE,
                                         job=job, now=T0)
    assert await ids(store) == []


async def test_a_scheduled_run_respects_its_queue(store):
    await store.set_queues(["ops"], paused=True)
    await store.add_schedule(nightly())
    await scheduler(store).run_once(parse_iso("2026-05-06T02:00:01Z"))
    assert await store.claim_jobs(worker_id="w", limit=5, now=parse_iso("2026-05-06T02:00:02Z")) == []
