"""Store contract, job verbs: insert, claim, finish, requeue, rescue, retry_dead.

Only the Store protocol is used here, so every backend must pass these unchanged.
"""

import asyncio
import contextlib

import pytest

from queuectl.errors import DuplicateJobError, JobNotFoundError, WrongStateError
from queuectl.jobs import JobState, NewJob, WorkerInfo

from .helpers import NOW, claim, finish, ids, job, make_dead, result

# -- insert ------------------------------------------------------------------------------


async def test_insert_returns_pending_jobs_as_stored(store):
    inserted = await store.insert_jobs([job("a", "echo a", priority=2, timeout=1.5)], now=NOW)
    (a,) = inserted
    assert (a.id, a.command, a.state, a.attempts, a.max_retries) == ("a", "echo a", "pending", 0, 3)
    assert (a.priority, a.timeout, a.run_at, a.created_at, a.updated_at) == (2, 1.5, NOW, NOW, NOW)
    assert a.exit_code is None and a.last_error is None and a.next_retry_at is None
    assert await store.get_job("a") == a


async def test_insert_keeps_a_scheduled_run_at(store):
    (a,) = await store.insert_jobs([job("a", run_at=NOW + 5000)], now=NOW)
    assert a.run_at == NOW + 5000 and (await store.get_job("a")).run_at == NOW + 5000


async def test_insert_many_in_order(store):
    await store.insert_jobs([job(f"j{i}") for i in range(50)], now=NOW)
    assert await ids(store) == [f"j{i}" for i in range(50)]


async def test_duplicate_id_inserts_nothing_from_the_batch(store):
    await store.insert_jobs([job("a")], now=NOW)
    with pytest.raises(DuplicateJobError, match="'a'"):
        await store.insert_jobs([job("b"), job("a", "echo new"), job("c")], now=NOW)
    assert await ids(store) == ["a"]
    assert (await store.get_job("a")).command == "true"


async def test_duplicate_within_one_batch_inserts_nothing(store):
    with pytest.raises(DuplicateJobError):
        await store.insert_jobs([job("x"), job("y"), job("x")], now=NOW)
    assert await ids(store) == []


async def test_insert_without_max_retries_takes_the_configured_default(store):
    """NewJob documents max_retries=None as "take config max-retries at insert"."""
    await store.set_config("max-retries", "5")
    (a,) = await store.insert_jobs([NewJob(id="a", command="true")], now=NOW)
    assert a.max_retries == 5 and (await store.get_job("a")).max_retries == 5


# -- claim -------------------------------------------------------------------------------


async def test_claim_marks_processing_and_counts_the_attempt(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store, now=NOW + 10)
    assert (a.state, a.worker_id, a.attempts, a.run_no, a.started_at) == (
        "processing", "w1", 1, 1, NOW + 10)
    assert await store.get_job("a") == a


async def test_claim_respects_the_batch_limit(store):
    await store.insert_jobs([job(f"j{i}") for i in range(5)], now=NOW)
    assert [j.id for j in await claim(store, 2)] == ["j0", "j1"]
    assert len(await claim(store, 10)) == 3
    assert await claim(store, 10) == []


async def test_claim_order_is_priority_then_fifo(store):
    jobs = [job("a"), job("b", priority=5), job("c"), job("d", priority=5), job("e", priority=-1)]
    await store.insert_jobs(jobs, now=NOW)
    order = [(await claim(store, 1))[0].id for _ in jobs]
    assert order == ["b", "d", "a", "c", "e"]


async def test_a_batch_comes_back_in_claim_order(store):
    await store.insert_jobs([job("a"), job("b", priority=5), job("c"), job("d", priority=9)], now=NOW)
    assert [j.id for j in await claim(store, 10)] == ["d", "b", "a", "c"]


async def test_fifo_across_separate_inserts(store):
    for i in range(5):
        await store.insert_jobs([job(f"j{i}")], now=NOW)
    assert [j.id for j in await claim(store, 10)] == [f"j{i}" for i in range(5)]


async def test_future_run_at_is_not_claimed_until_due(store):
    await store.insert_jobs([job("later", run_at=NOW + 5000), job("now")], now=NOW)
    assert [j.id for j in await claim(store)] == ["now"]
    assert await claim(store, now=NOW + 4999) == []
    assert [j.id for j in await claim(store, now=NOW + 5000)] == ["later"]


async def test_only_due_states_are_claimed(store):
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    a, b = await claim(store)
    await store.finish_jobs([finish(a)], now=NOW)
    await make_dead(store)
    assert await claim(store, now=NOW + 10**9) == []


async def test_two_store_objects_never_claim_the_same_job(store, other):
    await store.insert_jobs([job(f"j{i:03}") for i in range(300)], now=NOW)

    async def drain(s, worker):
        got = []
        while batch := await s.claim_jobs(worker_id=worker, limit=3, now=NOW):
            got += [j.id for j in batch]
            await asyncio.sleep(0)
        return got

    first, second = await asyncio.gather(drain(store, "w1"), drain(other, "w2"))
    assert not set(first) & set(second)
    assert sorted(first + second) == [f"j{i:03}" for i in range(300)]


# -- finish ------------------------------------------------------------------------------


async def test_finish_completed_writes_state_and_history(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    res = result(0, finished=NOW + 300, duration=0.25, out=b"hello\n", err=b"warn\n")
    assert await store.finish_jobs([finish(a, res=res)], now=NOW + 301) == 1
    done = await store.get_job("a")
    assert (done.state, done.exit_code, done.last_error, done.attempts) == ("completed", 0, None, 1)
    assert done.worker_id is None and done.updated_at == NOW + 301
    (attempt,) = await store.attempts("a")
    assert (attempt.n, attempt.worker_id, attempt.exit_code, attempt.error) == (1, "w1", 0, None)
    assert (attempt.started_at, attempt.finished_at, attempt.duration) == (NOW + 50, NOW + 300, 0.25)
    out = await store.output("a", None)
    assert (out.attempt, out.stdout, out.stderr) == (1, b"hello\n", b"warn\n")


async def test_finish_failed_schedules_the_retry(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.finish_jobs([finish(a, JobState.FAILED, run_at=NOW + 2000)], now=NOW + 100)
    failed = await store.get_job("a")
    assert (failed.state, failed.run_at, failed.next_retry_at) == ("failed", NOW + 2000, NOW + 2000)
    assert (failed.exit_code, failed.last_error) == (1, "exit code 1")
    assert await claim(store, now=NOW + 1999) == []
    (again,) = await claim(store, now=NOW + 2000)
    assert (again.attempts, again.run_no) == (2, 2)


async def test_finish_dead(store):
    await make_dead(store, "d")
    dead = await store.get_job("d")
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 1, "exit code 1")


async def test_finish_many_in_one_call(store):
    await store.insert_jobs([job(f"j{i}") for i in range(4)], now=NOW)
    claimed = await claim(store)
    finishes = [finish(claimed[0]), finish(claimed[1], JobState.FAILED, run_at=NOW + 10),
                finish(claimed[2], JobState.DEAD), finish(claimed[3])]
    assert await store.finish_jobs(finishes, now=NOW + 100) == 4
    assert [j.state async for j in store.iter_jobs()] == ["completed", "failed", "dead", "completed"]


async def test_stale_finish_from_another_worker_changes_nothing(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    assert await store.finish_jobs([finish(a, worker="intruder")], now=NOW) == 0
    assert (await store.get_job("a")).state == "processing"
    assert await store.attempts("a") == []


async def test_stale_finish_with_an_old_run_no_changes_nothing(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.rescue_lost_jobs(dead_workers=[], now=NOW + 1)  # w1 never registered: lost
    (again,) = await claim(store, worker="w2", now=NOW + 2)
    assert await store.finish_jobs([finish(a)], now=NOW + 3) == 0
    current = await store.get_job("a")
    assert (current.state, current.worker_id, current.run_no) == ("processing", "w2", 2)
    assert [(t.n, t.error) for t in await store.attempts("a")] == [(1, "worker lost")]
    assert await store.finish_jobs([finish(again)], now=NOW + 4) == 1


async def test_finish_after_rescue_changes_nothing(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.rescue_lost_jobs(dead_workers=[], now=NOW + 1)
    assert await store.finish_jobs([finish(a)], now=NOW + 2) == 0
    assert (await store.get_job("a")).state == "pending"
    assert len(await store.attempts("a")) == 1


async def test_a_stale_finish_does_not_block_the_rest_of_its_batch(store):
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    a, b = await claim(store)
    assert await store.finish_jobs([finish(a, worker="intruder"), finish(b)], now=NOW) == 1
    assert [(await store.get_job(x)).state for x in "ab"] == ["processing", "completed"]


# -- requeue_interrupted -----------------------------------------------------------------


async def test_requeue_interrupted_does_not_charge_an_attempt(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    assert await store.requeue_interrupted(worker_id="w1", jobs=[("a", a.run_no)], now=NOW + 5) == 1
    back = await store.get_job("a")
    assert (back.state, back.attempts, back.run_no, back.worker_id) == ("pending", 0, 0, None)
    assert await store.attempts("a") == []
    (again,) = await claim(store, now=NOW + 6)
    assert (again.attempts, again.run_no) == (1, 1)


async def test_requeue_is_guarded_by_worker_and_run_no(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    assert await store.requeue_interrupted(worker_id="w2", jobs=[("a", 1)], now=NOW) == 0
    assert await store.requeue_interrupted(worker_id="w1", jobs=[("a", 7)], now=NOW) == 0
    assert (await store.get_job("a")).state == "processing"


# -- rescue_lost_jobs ----------------------------------------------------------------------


def worker(worker_id, *, heartbeat=NOW, pid=999_999, host="host-a"):
    return WorkerInfo(worker_id, pid, host, 2, NOW - 1000, heartbeat)


async def test_rescue_returns_a_dead_workers_jobs_and_counts_the_attempt(store):
    await store.register_worker(worker("w1"))
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    await claim(store, worker="w1")
    rescued = await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 20_000)
    assert sorted((r.job_id, r.state, r.worker_id) for r in rescued) == [
        ("a", "pending", "w1"), ("b", "pending", "w1")]
    assert await store.list_workers() == []
    a = await store.get_job("a")
    assert (a.state, a.attempts, a.last_error, a.worker_id) == ("pending", 1, "worker lost", None)
    (lost,) = await store.attempts("a")
    assert (lost.n, lost.worker_id, lost.error, lost.finished_at) == (1, "w1", "worker lost", NOW + 20_000)
    assert [j.id for j in await claim(store, worker="w2", now=NOW + 20_000)] == ["a", "b"]


async def test_rescue_skips_a_worker_whose_heartbeat_moved(store):
    await store.register_worker(worker("w1"))
    await store.insert_jobs([job("a")], now=NOW)
    await claim(store, worker="w1")
    assert (await store.heartbeat(worker_id="w1", running=1, now=NOW + 500)).stop_requested is False
    assert await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 600) == []
    assert [w.id for w in await store.list_workers()] == ["w1"]
    assert (await store.get_job("a")).state == "processing"


async def test_rescue_leaves_live_workers_alone(store):
    await store.register_worker(worker("live"))
    await store.register_worker(worker("gone"))
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    await claim(store, 1, worker="live")
    await claim(store, 1, worker="gone")
    rescued = await store.rescue_lost_jobs(dead_workers=[("gone", NOW)], now=NOW + 1)
    assert [r.job_id for r in rescued] == ["b"]
    assert (await store.get_job("a")).worker_id == "live"


async def test_rescue_reports_the_lost_worker_of_each_job(store):
    await store.register_worker(worker("w1"))
    await store.insert_jobs([job("a")], now=NOW)
    await claim(store, worker="w1")
    (rescued,) = await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 1)
    assert (rescued.job_id, rescued.state, rescued.worker_id) == ("a", "pending", "w1")


async def test_rescue_of_the_last_attempt_goes_dead(store):
    await store.register_worker(worker("w1"))
    await store.insert_jobs([job("a", max_retries=0), job("b", max_retries=1)], now=NOW)
    await claim(store, worker="w1")
    rescued = await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 1)
    assert sorted((r.job_id, r.state) for r in rescued) == [("a", "dead"), ("b", "pending")]
    assert (await store.get_job("a")).state == "dead"


async def test_rescue_with_nothing_lost(store):
    await store.insert_jobs([job("a")], now=NOW)
    assert await store.rescue_lost_jobs(dead_workers=[("nobody", 1)], now=NOW) == []
    assert (await store.get_job("a")).state == "pending"


# -- retry_dead ----------------------------------------------------------------------------


async def test_retry_dead_resets_attempts_and_keeps_history(store):
    await make_dead(store, "d")
    assert await store.retry_dead(["d"], now=NOW + 1000) == ["d"]
    d = await store.get_job("d")
    assert (d.state, d.attempts, d.run_at) == ("pending", 0, NOW + 1000)
    assert d.last_error is None and d.exit_code is None
    assert len(await store.attempts("d")) == 1
    (again,) = await claim(store, now=NOW + 1000)
    assert again.attempts == 1
    await store.finish_jobs([finish(again)], now=NOW + 2000)
    assert [t.n for t in await store.attempts("d")] == [1, 2]


async def test_retry_dead_unknown_id_changes_nothing(store):
    await make_dead(store, "d")
    with pytest.raises(JobNotFoundError, match="nope"):
        await store.retry_dead(["d", "nope"], now=NOW)
    assert (await store.get_job("d")).state == "dead"


async def test_retry_dead_of_a_live_job_changes_nothing(store):
    await make_dead(store, "d")
    await store.insert_jobs([job("p")], now=NOW)
    with pytest.raises(WrongStateError, match="'p'"):
        await store.retry_dead(["d", "p"], now=NOW)
    assert (await store.get_job("d")).state == "dead"


async def test_retry_all_dead(store):
    await make_dead(store, "d1")
    await store.insert_jobs([job("p", run_at=NOW + 10**9)], now=NOW)
    await make_dead(store, "d2")
    assert await store.retry_dead(None, now=NOW) == ["d1", "d2"]
    assert (await store.count_by_state())["dead"] == 0
    assert await store.retry_dead(None, now=NOW) == []


# -- cancellation ----------------------------------------------------------------------------


async def test_a_cancelled_write_leaves_the_store_usable(store, other):
    """A worker cancels store calls when it stops (side tasks, a TaskGroup failing): whatever
    point a write is cancelled at, the next write on that store object and on others works."""
    for n in range(6):
        task = asyncio.create_task(store.set_config("k", f"v{n}"))
        for _ in range(n):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.set_config("after", str(n))
    await asyncio.wait_for(other.set_config("other", "1"), 5)
    assert (await store.get_config())["after"] == "5"
