"""Store verbs behind `wait` and `purge` (Part 2), on every backend."""

import pytest

from queuectl.jobs import JobState, NewJob

from .helpers import NOW, claim, finish, make_dead


def new(job_id, batch="b", **fields):
    return NewJob(job_id, "true", max_retries=0, batch=batch, **fields)


async def finished(store, *job_ids, state=JobState.COMPLETED, now=NOW + 100):
    for claimed in await claim(store, 100, now=now):
        if claimed.id in job_ids:
            await store.finish_jobs([finish(claimed, state)], now=now)
        else:
            await store.requeue_interrupted(worker_id=claimed.worker_id,
                                            jobs=[(claimed.id, claimed.run_no)], now=now)


async def test_get_jobs_and_states_in_the_order_asked(store):
    await store.insert_jobs([new("a"), new("b"), new("c")], now=NOW)
    await finished(store, "b")
    assert [j.id for j in await store.get_jobs(["c", "nope", "a"])] == ["c", "a"]
    assert await store.job_states(["a", "b", "nope"]) == {"a": "pending", "b": "completed"}
    assert await store.get_jobs([]) == [] and await store.job_states([]) == {}


async def test_many_ids_at_once(store):
    jobs = [new(f"j{n}") for n in range(1200)]
    await store.insert_jobs(jobs, now=NOW)
    ids = [j.id for j in reversed(jobs)]
    assert [j.id for j in await store.get_jobs(ids)] == ids
    assert len(await store.job_states(ids)) == 1200


async def test_batch_counts_and_unfinished_ids(store):
    await store.insert_jobs([new("a"), new("b"), new("c", batch="other", queue="q"),
                             new("d", queue="q")], now=NOW)
    await finished(store, "a")
    assert await store.batch_counts("b") == {
        "pending": 2, "processing": 0, "completed": 1, "failed": 0, "dead": 0}
    assert sum((await store.batch_counts("none")).values()) == 0
    assert await store.unfinished_ids() == ["b", "c", "d"]
    assert await store.unfinished_ids(queue="q") == ["c", "d"]


async def test_purge_deletes_old_finished_jobs_with_history_and_keeps_counts(store):
    await store.insert_jobs([new("old"), new("new"), new("live")], now=NOW)
    await finished(store, "old", now=NOW + 100)
    await finished(store, "new", now=NOW + 5000)
    await make_dead(store, "d")
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 1000, limit=10,
                                  dry_run=True) == 1
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 1000, limit=10) == 1
    assert [j.id for j in await store.get_jobs(["old", "new", "live", "d"])] == [
        "new", "live", "d"]
    assert await store.attempts("old") == []
    counts = await store.count_by_state()
    assert counts == {"pending": 1, "processing": 0, "completed": 1, "failed": 0, "dead": 1}
    assert await store.purge_jobs(state=JobState.DEAD, before=NOW + 10**6, limit=10) == 1
    assert (await store.count_by_state())["dead"] == 0


async def test_purge_works_in_slices_and_by_batch(store):
    await store.insert_jobs([new(f"a{n}", batch="x") for n in range(7)]
                            + [new(f"b{n}", batch="y") for n in range(3)], now=NOW)
    await finished(store, *[f"a{n}" for n in range(7)], *[f"b{n}" for n in range(3)])
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 10**6, limit=4,
                                  batch="x") == 4
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 10**6, limit=4,
                                  batch="x") == 3
    assert await store.batch_counts("y") == {
        "pending": 0, "processing": 0, "completed": 3, "failed": 0, "dead": 0}


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.FAILED, JobState.PROCESSING])
async def test_purge_refuses_an_unfinished_state(store, state):
    with pytest.raises(ValueError, match="finished jobs only"):
        await store.purge_jobs(state=state, before=NOW + 10**9, limit=10)


async def test_purge_never_touches_unfinished_jobs(store):
    await store.insert_jobs([new("p"), new("r")], now=NOW)
    await claim(store, 1)  # p or r is processing now; the other pending
    await make_dead(store, "d")
    await store.retry_dead(["d"], now=NOW + 200)  # back to pending
    for state in (JobState.COMPLETED, JobState.DEAD):
        assert await store.purge_jobs(state=state, before=NOW + 10**9, limit=100) == 0
    assert sorted([j.id async for j in store.iter_jobs()]) == ["d", "p", "r"]
