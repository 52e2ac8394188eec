"""The engine wakes on events, not on its idle poll: with the poll fallback pushed to 30 s,
retries, scheduled jobs and new work must still start at once. And a side task that dies
stops the worker instead of leaving it half alive."""

import asyncio

import pytest

from queuectl import engine as engine_module
from queuectl.engine import Engine
from queuectl.jobs import NewJob
from queuectl.store.sqlite import SqliteStore
from queuectl.timeutil import now_ms

from .conftest import FAST


@pytest.fixture(autouse=True)
def no_polling(monkeypatch):
    monkeypatch.setattr(engine_module, "POLL_S", 30.0)


def job(job_id, command="true", **fields):
    fields.setdefault("max_retries", 3)
    return NewJob(id=job_id, command=command, **fields)


async def test_a_retry_starts_from_the_wakeup_heap(store, tmp_path):
    marker = tmp_path / "failed-once"
    await store.insert_jobs([job("a", f"test -e {marker} || {{ touch {marker}; exit 1; }}")],
                            now=now_ms())
    settings = FAST.__class__(backoff_base=2.0, backoff_max=0.2, kill_grace=0.2)
    eng = Engine(store, settings=settings, concurrency=1, drain=True, log=[].append)
    assert await asyncio.wait_for(eng.run(), 10) == 0
    first, second = await store.attempts("a")
    assert second.started_at >= first.finished_at + 200


async def test_a_scheduled_job_starts_from_the_wakeup_heap(store):
    await store.insert_jobs([job("later", run_at=now_ms() + 300)], now=now_ms())
    eng = Engine(store, settings=FAST, concurrency=1, drain=True, log=[].append)
    assert await asyncio.wait_for(eng.run(), 10) == 0
    assert (await store.get_job("later")).state == "completed"


class IdleSpy:
    """The real store; `idle` is set when the engine asks for the next due time, which it
    does right before it goes to sleep."""

    def __init__(self, store):
        self._store, self.idle = store, asyncio.Event()

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def next_due_at(self):
        due = await self._store.next_due_at()
        self.idle.set()
        return due


async def test_an_idle_worker_wakes_when_a_job_is_enqueued(store, tmp_path, eventually):
    spy = IdleSpy(store)
    eng = Engine(spy, settings=FAST, concurrency=1, drain=False, log=[].append)
    task = asyncio.create_task(eng.run())
    try:
        await asyncio.wait_for(spy.idle.wait(), 10)
        other = await SqliteStore.open(tmp_path / "queue.db")  # another process, in effect
        try:
            await other.insert_jobs([job("new")], now=now_ms())
        finally:
            await other.close()
        await eventually(lambda: _state(store, "new", "completed"), timeout=5)
    finally:
        eng.stop()
        await asyncio.wait_for(task, 10)


async def _state(store, job_id, state):
    return (await store.get_job(job_id)).state == state


class FailingHeartbeat:
    """The real store, except that heartbeats fail (a broken connection, say)."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def heartbeat(self, **kwargs):
        raise RuntimeError("heartbeat write failed")


async def test_a_dying_side_task_stops_the_worker_loudly(store):
    settings = FAST.__class__(worker_lease=0.1)  # a heartbeat every 20 ms
    eng = Engine(FailingHeartbeat(store), settings=settings, concurrency=1, drain=False,
                 log=[].append)
    with pytest.raises(Exception) as info:  # noqa: B017 - checked just below
        await asyncio.wait_for(eng.run(), 10)
    if isinstance(info.value, ExceptionGroup):  # the TaskGroup's own, or a wrapped error
        assert info.group_contains(RuntimeError, match="heartbeat write failed")
    else:
        assert "heartbeat write failed" in str(info.value)
    # Not asserted here: that the row is deregistered on the way down. It usually is, but a
    # store call cancelled inside BEGIN breaks the connection (see the store contract test
    # test_a_cancelled_write_leaves_the_store_usable), which makes that assertion flaky.
