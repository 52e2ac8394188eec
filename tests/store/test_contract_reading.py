"""Store contract, reading verbs and config: get_job, iter_jobs, counts, next_due_at, attempts,
output, metrics, get/set config."""

import pytest

from queuectl.errors import JobNotFoundError
from queuectl.jobs import STATES, JobState

from .helpers import NOW, claim, finish, ids, job, make_dead, result


async def test_get_unknown_job(store):
    with pytest.raises(JobNotFoundError, match="nope"):
        await store.get_job("nope")


async def test_iter_jobs_on_an_empty_store(store):
    assert await ids(store) == []


async def test_iter_jobs_is_enqueue_order_not_priority(store):
    await store.insert_jobs([job("a"), job("b", priority=9), job("c", run_at=NOW - 5000)], now=NOW)
    assert await ids(store) == ["a", "b", "c"]


async def test_iter_jobs_state_filter_and_limit(store):
    await store.insert_jobs([job(f"j{i}") for i in range(6)], now=NOW)
    await claim(store, 2)
    assert await ids(store, JobState.PROCESSING) == ["j0", "j1"]
    assert await ids(store, JobState.PENDING) == ["j2", "j3", "j4", "j5"]
    assert await ids(store, JobState.DEAD) == []
    assert [j.id async for j in store.iter_jobs(state=JobState.PENDING, limit=3)] == ["j2", "j3", "j4"]
    assert [j.id async for j in store.iter_jobs(limit=0)] == []


async def test_iter_jobs_across_many_rows(store):
    """More rows than any sensible read chunk: nothing skipped or repeated, limits exact."""
    names = [f"j{i:04}" for i in range(2_100)]
    await store.insert_jobs([job(n) for n in names], now=NOW)
    await claim(store, 1_050)
    assert await ids(store) == names
    assert await ids(store, JobState.PENDING) == names[1_050:]
    processing = [j.id async for j in store.iter_jobs(state=JobState.PROCESSING, limit=1_020)]
    assert processing == names[:1_020]
    assert len([j async for j in store.iter_jobs(limit=2_001)]) == 2_001


async def test_count_by_state_names_all_five(store):
    assert await store.count_by_state() == dict.fromkeys(STATES, 0)


async def test_count_by_state_follows_every_transition(store):
    await store.insert_jobs([job(f"j{i}") for i in range(5)], now=NOW)
    a, b, c = await claim(store, 3)
    await store.finish_jobs([finish(a), finish(b, JobState.FAILED, run_at=NOW + 10)], now=NOW)
    await make_dead(store, "d")
    assert await store.count_by_state() == {
        "pending": 2, "processing": 1, "completed": 1, "failed": 1, "dead": 1}
    await store.requeue_interrupted(worker_id="w1", jobs=[("j2", c.run_no)], now=NOW)
    await store.retry_dead(["d"], now=NOW)
    assert await store.count_by_state() == {
        "pending": 4, "processing": 0, "completed": 1, "failed": 1, "dead": 0}


async def test_next_due_at(store):
    assert await store.next_due_at() is None
    await store.insert_jobs([job("late", run_at=NOW + 9000), job("soon", run_at=NOW + 3000)], now=NOW)
    assert await store.next_due_at() == NOW + 3000


async def test_next_due_at_ignores_running_and_finished_but_sees_retries(store):
    await store.insert_jobs([job("a"), job("b"), job("c", run_at=NOW + 9000)], now=NOW)
    a, b = await claim(store)
    assert await store.next_due_at() == NOW + 9000
    await store.finish_jobs([finish(a), finish(b, JobState.FAILED, run_at=NOW + 4000)], now=NOW)
    assert await store.next_due_at() == NOW + 4000


async def test_attempts_of_a_new_job_is_empty(store):
    await store.insert_jobs([job("a")], now=NOW)
    assert await store.attempts("a") == []


async def test_attempt_history_in_order(store):
    await store.insert_jobs([job("a")], now=NOW)
    for n, exit_code in enumerate([1, 2, 0], 1):
        (claimed,) = await claim(store, now=NOW + n * 1000)
        state = JobState.COMPLETED if exit_code == 0 else JobState.FAILED
        await store.finish_jobs([finish(claimed, state, run_at=NOW, res=result(exit_code))], now=NOW)
    history = await store.attempts("a")
    assert [(t.n, t.exit_code, t.error) for t in history] == [
        (1, 1, "exit code 1"), (2, 2, "exit code 2"), (3, 0, None)]


async def output_job(store):
    await store.insert_jobs([job("a")], now=NOW)
    for n in (1, 2):
        (claimed,) = await claim(store)
        res = result(1, out=f"out {n}\n".encode(), err=f"err {n}\n".encode())
        await store.finish_jobs([finish(claimed, JobState.FAILED, run_at=NOW, res=res)], now=NOW)


async def test_output_latest_and_by_number(store):
    await output_job(store)
    latest = await store.output("a", None)
    assert (latest.attempt, latest.stdout, latest.stderr) == (2, b"out 2\n", b"err 2\n")
    first = await store.output("a", 1)
    assert (first.attempt, first.stdout, first.stderr) == (1, b"out 1\n", b"err 1\n")


async def test_output_missing_attempt(store):
    await output_job(store)
    with pytest.raises(JobNotFoundError, match="3"):
        await store.output("a", 3)


async def test_output_before_any_attempt_finished(store):
    await store.insert_jobs([job("a")], now=NOW)
    with pytest.raises(JobNotFoundError):
        await store.output("a", None)


async def test_output_of_unknown_job(store):
    with pytest.raises(JobNotFoundError):
        await store.output("nope", None)


async def test_empty_output_is_empty_bytes(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    await store.finish_jobs([finish(a)], now=NOW)
    out = await store.output("a", None)
    assert (out.stdout, out.stderr) == (b"", b"")


async def test_binary_output_round_trips(store):
    await store.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(store)
    blob = bytes(range(256)) * 10
    await store.finish_jobs([finish(a, res=result(0, out=blob, err=b"\0\xff"))], now=NOW)
    out = await store.output("a", 1)
    assert (out.stdout, out.stderr) == (blob, b"\0\xff")


# -- metrics -------------------------------------------------------------------------------


async def finished_attempts(store, specs):
    """specs: (ok, finished_at, duration) -> one job and one attempt each."""
    await store.insert_jobs([job(f"m{i}") for i in range(len(specs))], now=NOW - 10**8)
    claimed = await claim(store, len(specs), now=NOW - 10**8)
    finishes = []
    for claimed_job, (ok, at, duration) in zip(claimed, specs, strict=True):
        state = JobState.COMPLETED if ok else JobState.DEAD
        res = result(0 if ok else 1, finished=at, duration=duration)
        finishes.append(finish(claimed_job, state, res=res))
    await store.finish_jobs(finishes, now=NOW)


async def test_metrics_of_an_empty_store(store):
    m = await store.metrics(now=NOW)
    assert (m.completed_last_minute, m.failed_last_minute, m.completed_last_hour,
            m.failed_last_hour, m.mean_duration, m.p95_duration) == (0, 0, 0, 0, None, None)


async def test_metrics_count_the_minute_and_hour_windows(store):
    await finished_attempts(store, [
        (True, NOW - 1_000, 1.0), (True, NOW - 59_000, 2.0), (False, NOW - 30_000, 3.0),
        (True, NOW - 600_000, 4.0), (False, NOW - 3_000_000, 6.0),
        (True, NOW - 4_000_000, 100.0), (False, NOW - 7_200_000, 100.0),  # older than an hour
    ])
    m = await store.metrics(now=NOW)
    assert (m.completed_last_minute, m.failed_last_minute) == (2, 1)
    assert (m.completed_last_hour, m.failed_last_hour) == (3, 2)
    assert m.mean_duration == pytest.approx(3.2)


async def test_metrics_p95_is_the_nearest_rank(store):
    await finished_attempts(store, [(True, NOW - 1000, float(d)) for d in range(1, 21)])
    m = await store.metrics(now=NOW)
    assert m.p95_duration == 19.0 and m.mean_duration == pytest.approx(10.5)


async def test_metrics_p95_of_one_attempt(store):
    await finished_attempts(store, [(True, NOW - 1000, 0.5)])
    assert (await store.metrics(now=NOW)).p95_duration == 0.5


# -- config --------------------------------------------------------------------------------


async def test_config_starts_empty(store):
    assert await store.get_config() == {}


async def test_config_set_get_and_overwrite(store, other):
    await store.set_config("max-retries", "5")
    await store.set_config("backoff-base", "3")
    await store.set_config("max-retries", "7")
    assert await store.get_config() == {"max-retries": "7", "backoff-base": "3"}
    assert await other.get_config() == {"max-retries": "7", "backoff-base": "3"}
