"""The engine wakes on events, not on its idle poll: with the poll fallback pushed to 30 s,
retries, scheduled jobs and new work must still start at once. And a side task that dies
stops the worker instead of leaving it half alive."""

import asyncio
from pathlib import Path

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
    does right before it goes to sleep. With `delay`, next_due_at answers that much late (a
    loaded machine, a remote database): a run_at a few ms away is already due when it does.
    `answered` is the last due time it gave."""

    def __init__(self, store, delay: float = 0.0):
        self._store, self.idle, self._delay, self.answered = store, asyncio.Event(), delay, None

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def next_due_at(self):
        due = await self._store.next_due_at()
        if self._delay:
            await asyncio.sleep(self._delay)
        self.answered = due
        self.idle.set()
        return due


async def test_an_idle_worker_wakes_when_a_job_is_enqueued(store, tmp_path, eventually):
    spy = IdleSpy(store)
    eng = Engine(spy, settings=FAST, concurrency=1, drain=False, log=[].append)
    task = asyncio.create_task(eng.run())
    try:
        await asyncio.wait_for(spy.idle.wait(), 10)
        await _from_another_process(tmp_path, lambda other: other.insert_jobs([job("new")],
                                                                              now=now_ms()))
        await eventually(lambda: _state(store, "new", "completed"), timeout=5)
    finally:
        eng.stop()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("spelling", ["symlink", "sqlite:////"])
async def test_another_spelling_of_the_store_path_rings_the_same_doorbell(store, tmp_path,
                                                                          eventually, spelling):
    spy = IdleSpy(store)
    eng = Engine(spy, settings=FAST, concurrency=1, drain=False, log=[].append)
    task = asyncio.create_task(eng.run())
    try:
        await asyncio.wait_for(spy.idle.wait(), 10)
        if spelling == "symlink":
            path = tmp_path / "elsewhere.db"
            path.symlink_to(tmp_path / "queue.db")
        else:  # what sqlite:////abs/path.db names: the path with a leading "//"
            path = Path("/" + str(tmp_path / "queue.db"))
        await _from_another_process(
            tmp_path, lambda other: other.insert_jobs([job("rung")], now=now_ms()), path=path)
        await eventually(lambda: _state(store, "rung", "completed"), timeout=5)  # poll: 30 s
    finally:
        eng.stop()
        await asyncio.wait_for(task, 10)


async def _from_another_process(tmp_path, action, *, path=None) -> None:
    """action(store) through a second handle on the same file: another process, in effect."""
    other = await SqliteStore.open(path or tmp_path / "queue.db")
    try:
        await action(other)
    finally:
        await other.close()


async def _state(store, job_id, state):
    return (await store.get_job(job_id)).state == state


def rendezvous(folder, n: int) -> str:
    """A job that returns only once all n jobs have started: nothing finishes (no slot frees,
    no wake-up) until the engine has claimed every one of them."""
    return (f"touch {folder}/$QUEUECTL_JOB_ID; "
            f"until [ $(ls {folder} | wc -l) -ge {n} ]; do sleep 0.01; done")


async def test_run_ats_milliseconds_apart_are_all_claimed_at_once(store, tmp_path):
    folder = tmp_path / "started"
    folder.mkdir()
    base = now_ms() + 300
    await store.insert_jobs([job(f"b{i}", rendezvous(folder, 10), run_at=base + 2 * i)
                             for i in range(10)], now=now_ms())
    eng = Engine(IdleSpy(store, delay=0.05), settings=FAST, concurrency=10, drain=True,
                 log=[].append)
    assert await asyncio.wait_for(eng.run(), 15) == 0  # the poll fallback is 30 s here
    assert (await store.count_by_state())["completed"] == 10


async def test_a_retry_another_worker_scheduled_is_claimed_when_due(store, tmp_path, eventually):
    slow = IdleSpy(store, delay=0.05)
    eng = Engine(slow, settings=FAST, concurrency=1, drain=False, log=[].append)
    task = asyncio.create_task(eng.run())
    try:
        await eventually(lambda: _registered(store, eng.worker_id))
        await _from_another_process(tmp_path, lambda other: _fail_once_as(
            other, "r", retry_in_ms=25, engine=slow, eventually=eventually))
        await eventually(lambda: _state(store, "r", "completed"), timeout=10)
    finally:
        eng.stop()
        await asyncio.wait_for(task, 10)


async def _registered(store, worker_id) -> bool:
    return any(w.id == worker_id for w in await store.list_workers())


async def _fail_once_as(other, job_id: str, *, retry_in_ms: int, engine, eventually) -> None:
    """Another worker ran `job_id`, which failed; its retry is due `retry_in_ms` later: while
    the engine, woken by the doorbell, still waits for next_due_at's answer."""
    from queuectl.jobs import Finish, JobState, RunResult, Transition, WorkerInfo

    now = now_ms()
    await other.register_worker(WorkerInfo("other", 1, "elsewhere", 1, now, now))
    await other.insert_jobs([job(job_id, run_at=now + 30_000)], now=now)  # not ours to claim
    await eventually(lambda: engine.answered == now + 30_000)  # seen: the engine sleeps again
    (claimed,) = await other.claim_jobs(worker_id="other", limit=1, now=now + 60_000)
    result = RunResult(1, "exit code 1", now, now_ms(), 0.001)
    await other.finish_jobs([Finish(job_id, "other", claimed.run_no,
                                    Transition(JobState.FAILED, now_ms() + retry_in_ms), result)],
                            now=now_ms())


class ForeverOverdue:
    """The real store, but next_due_at always names a run_at long past, which no claim gets
    (as when another claimer holds the row locked)."""

    def __init__(self, store):
        self._store, self.claims = store, 0

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def next_due_at(self):
        return 1

    async def claim_jobs(self, **kwargs):
        self.claims += 1
        return await self._store.claim_jobs(**kwargs)


async def test_a_due_time_that_no_claim_gets_backs_off_instead_of_spinning(store):
    spy = ForeverOverdue(store)
    eng = Engine(spy, settings=FAST, concurrency=1, drain=False, log=[].append)
    task = asyncio.create_task(eng.run())
    await asyncio.sleep(1.0)  # the span observed: how many claims does an idle second cost?
    eng.stop()
    await asyncio.wait_for(task, 10)
    assert 3 <= spy.claims <= 15, spy.claims  # spinning would be thousands; backoff ~8


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
