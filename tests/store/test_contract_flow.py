"""Flow control as every backend implements it (CLI.md "Flow control"): queue limits, pause,
the queues a worker serves, unique keys and dependencies, all decided in the store."""

import asyncio

import pytest

from queuectl.errors import DuplicateJobError, JobNotFoundError
from queuectl.jobs import JobState

from .helpers import NOW, claim, finish, ids, job, kept_queue_counts


def names(jobs):
    return [j.id for j in jobs]


# -- limits and pause ------------------------------------------------------------------------

async def test_a_limited_queue_never_runs_more_than_its_limit(store):
    await store.set_queues(["dl"], limit=2)
    await store.insert_jobs([job(f"d{i}", queue="dl") for i in range(5)], now=NOW)
    first = await claim(store, 10)
    assert names(first) == ["d0", "d1"]
    assert await claim(store, 10, worker="w2") == []
    await store.finish_jobs([finish(first[0])], now=NOW + 1)
    assert names(await claim(store, 10, worker="w2")) == ["d2"]


async def test_a_full_limited_queue_does_not_starve_the_others(store):
    await store.set_queues(["dl"], limit=1)
    await store.insert_jobs([job(f"d{i}", queue="dl", priority=9) for i in range(50)], now=NOW)
    await store.insert_jobs([job(f"o{i}") for i in range(5)], now=NOW)
    assert names(await claim(store, 10)) == ["d0", "o0", "o1", "o2", "o3", "o4"]


async def test_limits_hold_under_concurrent_claims(store, other):
    await store.set_queues(["dl"], limit=3)
    await store.insert_jobs([job(f"d{i}", queue="dl") for i in range(40)], now=NOW)
    got = await asyncio.gather(*[claim(s, 5, worker=f"w{i}")
                                 for i, s in enumerate([store, other] * 4)])
    assert sum(len(g) for g in got) == 3


async def test_limit_zero_removes_the_limit_and_a_lower_limit_holds_from_the_next_claim(store):
    await store.set_queues(["dl"], limit=1)
    await store.insert_jobs([job(f"d{i}", queue="dl") for i in range(5)], now=NOW)
    assert len(await claim(store, 10)) == 1
    await store.set_queues(["dl"], limit=0)
    assert len(await claim(store, 10)) == 4


async def test_a_paused_queue_is_not_claimed_until_resumed(store):
    await store.set_queues(["p"], paused=True)  # a queue with no jobs yet
    await store.insert_jobs([job("p1", queue="p"), job("x1")], now=NOW)
    assert names(await claim(store, 10)) == ["x1"]
    await store.set_queues(["p"], paused=False)
    assert names(await claim(store, 10)) == ["p1"]


async def test_pausing_a_queue_with_waiting_jobs_holds_them_and_running_ones_finish(store):
    await store.insert_jobs([job(f"p{i}", queue="p") for i in range(3)], now=NOW)
    (running,) = await claim(store, 1)
    await store.set_queues(["p"], paused=True)
    assert await claim(store, 10) == []
    assert await store.finish_jobs([finish(running)], now=NOW + 1) == 1
    assert await store.next_due_at() is None  # an idle worker does not wake for them


async def test_a_paused_limited_queue_stays_paused(store):
    await store.set_queues(["q"], limit=2)
    await store.set_queues(["q"], paused=True)
    await store.insert_jobs([job("q1", queue="q")], now=NOW)
    assert await claim(store, 10) == []
    await store.set_queues(["q"], paused=False)
    assert names(await claim(store, 10)) == ["q1"]


async def test_a_rescued_job_frees_its_queue_slot(store):
    from queuectl.jobs import WorkerInfo

    await store.register_worker(WorkerInfo("gone", 1, "h", 1, NOW, NOW))
    await store.set_queues(["dl"], limit=1)
    await store.insert_jobs([job("d0", queue="dl"), job("d1", queue="dl")], now=NOW)
    await claim(store, 1, worker="gone")
    assert await claim(store, 5) == []
    await store.rescue_lost_jobs(dead_workers=[("gone", NOW)], now=NOW + 1)
    assert len(await claim(store, 5, now=NOW + 2)) == 1  # d1: d0 is due again from NOW + 1


async def test_a_worker_serving_some_queues_claims_only_theirs(store):
    await store.set_queues(["b"], limit=1)
    await store.set_queues(["c"], paused=True)
    await store.insert_jobs([job("x", queue="a"), job("b1", queue="b"), job("b2", queue="b"),
                             job("c1", queue="c"), job("d1")], now=NOW)
    got = await store.claim_jobs(worker_id="w", limit=10, now=NOW, queues=["a", "b", "c"])
    assert names(got) == ["x", "b1"]
    assert names(await store.claim_jobs(worker_id="w", limit=10, now=NOW,
                                        queues=["default"])) == ["d1"]


async def test_claim_order_across_queues_is_priority_then_fifo(store):
    await store.set_queues(["lim"], limit=5)
    await store.insert_jobs([job("a", queue="x"), job("b", queue="lim", priority=1),
                             job("c", queue="y", priority=1), job("d", queue="lim")], now=NOW)
    assert names(await claim(store, 10)) == ["b", "c", "a", "d"]


async def test_list_queues_shows_jobs_and_settings(store):
    await store.set_queues(["empty"], paused=True)
    await store.set_queues(["dl"], limit=4)
    await store.insert_jobs([job("d1", queue="dl"), job("d2", queue="dl"), job("x")], now=NOW)
    await claim(store, 1)
    queues = {q.name: q for q in await store.list_queues()}
    assert sorted(queues) == ["default", "dl", "empty"]
    assert (queues["dl"].paused, queues["dl"].limit) == (False, 4)
    assert queues["dl"].counts == {"pending": 1, "processing": 1, "completed": 0, "failed": 0,
                                   "dead": 0}
    assert queues["empty"].paused and sum(queues["empty"].counts.values()) == 0


async def _counts_from_rows(store):
    """(queue, state) -> n from the jobs themselves: what the kept counts must equal."""
    found = {}
    async for j in store.iter_jobs():
        found[(j.queue, j.state.value)] = found.get((j.queue, j.state.value), 0) + 1
    return found


async def test_queue_counts_follow_every_verb_that_moves_a_job(store):
    """list_queues reads counts kept by the store (no GROUP BY over every job): after each
    verb that inserts, moves or deletes jobs they equal a count of the rows."""
    async def check():
        rows = await _counts_from_rows(store)
        assert await kept_queue_counts(store) == rows
        totals = {}
        for (_, state), n in rows.items():
            totals[state] = totals.get(state, 0) + n
        assert {k: v for k, v in (await store.count_by_state()).items() if v} == totals

    await store.insert_jobs([job("a1", queue="a"), job("a2", queue="a"), job("b1", queue="b"),
                             job("k1", queue="b", unique_key="k"), job("k2", queue="a",
                             unique_key="k"), job("x")], now=NOW)  # k2: skipped for k1
    await check()
    await store.insert_jobs([job("gone", "false", queue="c", max_retries=0)], now=NOW)
    (gone,) = await store.claim_jobs(worker_id="w1", limit=1, now=NOW, queues=["c"])
    await store.finish_jobs([finish(gone, JobState.DEAD)], now=NOW + 1)
    await store.insert_jobs([job("orphan", queue="c", after=("gone",))], now=NOW + 2)  # buried
    await check()
    first = await claim(store, 3)
    await check()
    await store.finish_jobs([finish(first[0]), finish(first[1], JobState.FAILED, run_at=NOW),
                             finish(first[2], JobState.DEAD)], now=NOW + 3)
    await check()
    assert await store.retry_dead(None, now=NOW + 4)
    assert await store.cancel_jobs(queue="b", now=NOW + 5)
    await check()
    await claim(store, 2, worker="lost")
    assert await store.rescue_lost_jobs(dead_workers=[("lost", 0)], now=NOW + 6)
    await check()
    assert await store.purge_jobs(state=JobState.DEAD, before=NOW + 100, limit=100)
    await check()


async def test_queue_settings_read_only_the_queues_with_settings(store):
    await store.insert_jobs([job("x", queue="plain")], now=NOW)
    assert await store.queue_settings() == []
    await store.set_queues(["b", "a"], paused=True)
    await store.set_queues(["b"], limit=2)
    assert await store.queue_settings() == [("a", True, 0), ("b", True, 2)]
    await store.set_queues(["a"], paused=False)
    assert (await store.queue_settings())[0] == ("a", False, 0)


async def test_runnable_counts_leave_out_paused_and_unserved_queues(store):
    await store.insert_jobs([job("a1", queue="a"), job("b1", queue="b"), job("p1", queue="p")],
                            now=NOW)
    await store.set_queues(["p"], paused=True)
    assert await store.runnable_counts(None) == (2, 0)
    assert await store.runnable_counts(["a", "p"]) == (1, 0)
    await claim(store, 1)
    assert await store.runnable_counts(["a"]) == (0, 1)


# -- unique keys ---------------------------------------------------------------------------

async def test_a_held_unique_key_returns_the_holder_and_creates_nothing(store):
    (first,) = await store.insert_jobs([job("u1", unique_key="k")], now=NOW)
    (again,) = await store.insert_jobs([job("u2", unique_key="k")], now=NOW + 1)
    assert again == first
    assert await ids(store) == ["u1"]
    assert (await store.count_by_state())["pending"] == 1


async def test_a_unique_key_is_free_again_once_its_holder_completes(store):
    await store.insert_jobs([job("u1", unique_key="k")], now=NOW)
    (claimed,) = await claim(store)
    (held,) = await store.insert_jobs([job("u2", unique_key="k")], now=NOW)
    assert held.id == "u1"
    await store.finish_jobs([finish(claimed)], now=NOW + 1)
    (fresh,) = await store.insert_jobs([job("u3", unique_key="k")], now=NOW + 2)
    assert fresh.id == "u3"


async def test_a_unique_key_holds_within_one_batch(store):
    got = await store.insert_jobs([job("a", unique_key="k"), job("b", unique_key="k"),
                                   job("c")], now=NOW)
    assert names(got) == ["a", "a", "c"]
    assert await ids(store) == ["a", "c"]


async def test_a_keyed_or_linked_enqueue_of_a_taken_id_is_a_duplicate_and_changes_nothing(store):
    await store.insert_jobs([job("a", command="echo old"), job("dep")], now=NOW)
    for taken in (job("a", unique_key="k"), job("a", after=("dep",))):
        with pytest.raises(DuplicateJobError, match="'a' already exists"):
            await store.insert_jobs([job("fresh", unique_key="f"), taken], now=NOW + 1)
    assert (await store.get_job("a")).command == "echo old"
    assert await ids(store) == ["a", "dep"]
    assert await store.dependency_edges() == []


async def test_concurrent_enqueues_of_one_key_make_exactly_one_job(store):
    from queuectl.store import open_store

    stores = [store] + [await open_store(store.url) for _ in range(3)]
    try:
        got = await asyncio.gather(*[s.insert_jobs([job(f"u{i}", unique_key="k")], now=NOW)
                                     for i, s in enumerate(stores * 2)])
    finally:
        for s in stores[1:]:
            await s.close()
    assert len(await ids(store)) == 1
    assert len({g[0].id for g in got}) == 1


# -- dependencies ----------------------------------------------------------------------------

async def test_a_job_waits_until_all_its_dependencies_complete(store):
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    await store.insert_jobs([job("c", after=("a", "b"))], now=NOW)
    claimed = await claim(store, 10)
    assert names(claimed) == ["a", "b"]
    await store.finish_jobs([finish(claimed[0])], now=NOW + 1)
    assert await claim(store, 10) == []
    await store.finish_jobs([finish(claimed[1])], now=NOW + 2)
    assert names(await claim(store, 10)) == ["c"]


async def test_dependency_edges_are_the_open_waits_and_go_as_they_resolve(store):
    await store.insert_jobs([job("a"), job("b", after=("a",)), job("c", after=("a", "b")),
                             job("k", unique_key="K")], now=NOW)
    # e's key is held by k, so d, named after e, waits on the holder k
    await store.insert_jobs([job("e", unique_key="K"), job("d", after=("e",))], now=NOW)
    assert await store.dependency_edges() == [
        ("a", "b"), ("a", "c"), ("b", "c"), ("k", "d")]
    (a, k) = await claim(store, 2)
    await store.finish_jobs([finish(a)], now=NOW + 1)
    assert await store.dependency_edges() == [("b", "c"), ("k", "d")]


async def test_an_unknown_dependency_is_an_error_and_creates_nothing(store):
    with pytest.raises(JobNotFoundError, match="nope"):
        await store.insert_jobs([job("a"), job("b", after=("nope",))], now=NOW)
    assert await ids(store) == []


async def test_a_dependency_may_name_an_earlier_job_of_the_batch_only(store):
    await store.insert_jobs([job("a"), job("b", after=("a",))], now=NOW)
    with pytest.raises(JobNotFoundError, match="'d'"):
        await store.insert_jobs([job("c", after=("d",)), job("d")], now=NOW)


async def test_a_completed_dependency_does_not_hold_a_job(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.finish_jobs([finish(a)], now=NOW + 1)
    await store.insert_jobs([job("b", after=("a",))], now=NOW + 2)
    assert names(await claim(store, now=NOW + 2)) == ["b"]


async def test_a_dead_dependency_buries_the_chain_without_running_it(store):
    await store.insert_jobs([job("a"), job("b", after=("a",)), job("c", after=("b",)),
                             job("x")], now=NOW)
    (a, x) = await claim(store, 10)
    await store.finish_jobs([finish(a, JobState.DEAD), finish(x)], now=NOW + 1)
    for job_id, cause in (("b", "a"), ("c", "b")):
        buried = await store.get_job(job_id)
        assert (buried.state, buried.attempts, buried.last_error) == (
            JobState.DEAD, 0, f"dependency {cause} failed")
    assert (await store.count_by_state())["dead"] == 3


async def test_a_job_after_a_dead_one_is_dead_at_once(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.finish_jobs([finish(a, JobState.DEAD)], now=NOW + 1)
    (b,) = await store.insert_jobs([job("b", after=("a",))], now=NOW + 2)
    assert (b.state, b.last_error) == (JobState.DEAD, "dependency a failed")


async def test_a_chain_of_a_thousand_and_a_fan_in_of_a_thousand(store):
    chain = [job("c0")] + [job(f"c{i}", after=(f"c{i - 1}",)) for i in range(1, 1000)]
    fan = [job(f"f{i}") for i in range(1000)] + [job("sink", after=tuple(f"f{i}" for i in range(1000)))]
    await store.insert_jobs(chain, now=NOW)
    await store.insert_jobs(fan, now=NOW)
    done = []
    while True:
        got = await claim(store, 200)
        if not got:
            break
        done += names(got)
        await store.finish_jobs([finish(j) for j in got], now=NOW + 1)
    assert [d for d in done if d.startswith("c")] == [f"c{i}" for i in range(1000)]
    fan_done = [d for d in done if not d.startswith("c")]
    assert fan_done[-1] == "sink" and len(fan_done) == 1001


async def test_a_job_back_from_processing_or_dead_keeps_its_queues_pause(store):
    from queuectl.jobs import WorkerInfo

    await store.register_worker(WorkerInfo("gone", 1, "h", 1, NOW, NOW))
    await store.insert_jobs([job("r", queue="p"), job("d", queue="p", max_retries=0)], now=NOW)
    running, dying = await claim(store, 2, worker="gone")
    await store.finish_jobs([finish(dying, JobState.DEAD)], now=NOW + 1)
    await store.set_queues(["p"], paused=True)
    await store.rescue_lost_jobs(dead_workers=[("gone", NOW)], now=NOW + 2)
    await store.retry_dead(["d"], now=NOW + 3)
    assert await claim(store, 10, now=NOW + 4) == []
    await store.set_queues(["p"], paused=False)
    assert sorted(names(await claim(store, 10, now=NOW + 4))) == ["d", "r"]


async def test_a_dead_job_cannot_come_back_while_its_key_is_held(store):
    from queuectl.errors import WrongStateError

    await store.insert_jobs([job("a", unique_key="k", max_retries=0)], now=NOW)
    (a,) = await claim(store)
    await store.finish_jobs([finish(a, JobState.DEAD)], now=NOW + 1)
    await store.insert_jobs([job("b", unique_key="k")], now=NOW + 2)
    with pytest.raises(WrongStateError, match="unique key"):
        await store.retry_dead(["a"], now=NOW + 3)
    assert (await store.get_job("a")).state == JobState.DEAD


async def test_settings_and_claims_at_once_neither_fail_nor_break_the_limit(store, other):
    await store.set_queues(["dl"], limit=2)
    await store.insert_jobs([job(f"d{i}", queue="dl") for i in range(200)], now=NOW)

    async def toggle(n: int) -> None:
        await other.set_queues(["dl"], paused=bool(n % 2))

    got = await asyncio.gather(*[claim(store, 5, worker=f"w{i}") for i in range(15)],
                               *[toggle(n) for n in range(10)])
    assert sum(len(g) for g in got[:15]) <= 2
