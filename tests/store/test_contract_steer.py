"""Store contract: cancelling jobs (cancel_jobs, the heartbeat's cancel ids, how a cancelled
job's attempt ends by every path) and a running attempt's streamed output pieces."""

import pytest

from queuectl.errors import JobNotFoundError, WrongStateError
from queuectl.jobs import Chunk, JobState, OutputWrite, WorkerInfo

from .helpers import NOW, claim, finish, job, make_dead, result


def worker(worker_id="w1"):
    return WorkerInfo(worker_id, 1, "h", 1, NOW, NOW)


async def counts(store):
    return {k: v for k, v in (await store.count_by_state()).items() if v}


# -- cancel_jobs ----------------------------------------------------------------------------


async def test_waiting_jobs_go_dead_at_once_with_attempts_unchanged(store):
    await store.insert_jobs([job("p"), job("f", "false")], now=NOW)
    (p,) = await claim(store, 1)  # p is claimed first (FIFO); fail it to make it `failed`
    await store.finish_jobs([finish(p, JobState.FAILED, run_at=NOW + 60_000)], now=NOW + 1)
    cancelled = await store.cancel_jobs(ids=["p", "f"], now=NOW + 2)
    assert [(j.id, j.state, j.last_error, j.attempts) for j in cancelled] == [
        ("p", "dead", "cancelled", 1), ("f", "dead", "cancelled", 0)]
    assert (await store.get_job("p")).next_retry_at is None
    assert await counts(store) == {"dead": 2}


async def test_a_running_job_is_flagged_and_its_worker_hears_it_in_the_heartbeat(store):
    await store.register_worker(worker())
    await store.insert_jobs([job("r"), job("other")], now=NOW)
    await claim(store, 2)
    (flagged,) = await store.cancel_jobs(ids=["r"], now=NOW + 5)
    assert (flagged.state, flagged.worker_id) == ("processing", "w1")
    beat = await store.heartbeat(worker_id="w1", running=2, now=NOW + 6)
    assert (beat.stop_requested, beat.cancel) == (False, ("r",))
    assert await counts(store) == {"processing": 2}


@pytest.mark.parametrize("outcome", [JobState.FAILED, JobState.DEAD])
async def test_a_flagged_job_that_fails_by_itself_still_ends_dead_cancelled(store, outcome):
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.cancel_jobs(ids=["r"], now=NOW + 5)
    await store.finish_jobs([finish(claimed, outcome, run_at=NOW + 60_000)], now=NOW + 10)
    ended = await store.get_job("r")
    assert (ended.state, ended.last_error, ended.exit_code) == ("dead", "cancelled", 1)
    assert [a.error for a in await store.attempts("r")] == ["exit code 1"]


async def test_a_flagged_job_that_completes_first_stays_completed(store):
    await store.register_worker(worker())
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.cancel_jobs(ids=["r"], now=NOW + 5)
    await store.finish_jobs([finish(claimed)], now=NOW + 10)
    assert (await store.get_job("r")).state == "completed"
    assert (await store.heartbeat(worker_id="w1", running=0, now=NOW + 11)).cancel == ()


async def test_a_cancelled_attempt_is_recorded_as_cancelled(store):
    await store.insert_jobs([job("r", "sleep 9")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.cancel_jobs(ids=["r"], now=NOW + 5)
    stopped = result(None, error="cancelled", out=b"so far\n")
    await store.finish_jobs([finish(claimed, JobState.DEAD, res=stopped)], now=NOW + 10)
    ended = await store.get_job("r")
    assert (ended.state, ended.last_error, ended.attempts) == ("dead", "cancelled", 1)
    assert [a.error for a in await store.attempts("r")] == ["cancelled"]
    assert (await store.output("r", None)).stdout == b"so far\n"


@pytest.mark.parametrize("bad", ["nope", "done", "d"])
async def test_an_unknown_or_finished_id_changes_nothing(store, bad):
    await store.insert_jobs([job("p"), job("done")], now=NOW)
    await make_dead(store, "d")
    (done,) = [j for j in await claim(store, 5) if j.id == "done"]
    await store.finish_jobs([finish(done)], now=NOW + 1)
    error = JobNotFoundError if bad == "nope" else WrongStateError
    before = await counts(store)
    with pytest.raises(error):
        await store.cancel_jobs(ids=["p", bad], now=NOW + 2)
    assert await counts(store) == before


async def test_cancel_of_a_dead_job_is_refused_and_dlq_retry_brings_a_cancelled_one_back(store):
    await store.insert_jobs([job("p")], now=NOW)
    await store.cancel_jobs(ids=["p"], now=NOW + 1)
    with pytest.raises(WrongStateError, match="already dead"):
        await store.cancel_jobs(ids=["p"], now=NOW + 2)
    assert await store.retry_dead(["p"], now=NOW + 3) == ["p"]
    back = await store.get_job("p")
    assert (back.state, back.attempts, back.last_error) == ("pending", 0, None)


# -- every other way a flagged attempt ends ---------------------------------------------------


async def test_a_rescued_flagged_job_goes_dead_not_back_to_the_queue(store):
    await store.register_worker(worker())
    await store.insert_jobs([job("r", max_retries=5), job("plain", max_retries=5)], now=NOW)
    await claim(store, 2)
    await store.cancel_jobs(ids=["r"], now=NOW + 5)
    rescued = await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 20_000)
    assert sorted((r.job_id, r.state) for r in rescued) == [("plain", "pending"), ("r", "dead")]
    ended = await store.get_job("r")
    assert (ended.state, ended.last_error, ended.attempts) == ("dead", "cancelled", 1)
    assert [j.id for j in await claim(store, 5, worker="w2", now=NOW + 20_000)] == ["plain"]


async def test_a_hard_stop_of_a_flagged_job_ends_it_dead_and_requeues_the_others(store):
    await store.insert_jobs([job("r"), job("plain")], now=NOW)
    held = await claim(store, 2)
    await store.cancel_jobs(ids=["r"], now=NOW + 5)
    await store.requeue_interrupted(worker_id="w1", jobs=[(j.id, j.run_no) for j in held],
                                    now=NOW + 9)
    r, plain = await store.get_job("r"), await store.get_job("plain")
    assert (r.state, r.last_error, r.attempts) == ("dead", "cancelled", 1)
    assert [a.error for a in await store.attempts("r")] == ["cancelled"]
    assert (plain.state, plain.attempts) == ("pending", 0)
    assert await counts(store) == {"dead": 1, "pending": 1}


# -- streamed output ----------------------------------------------------------------------------


def pieces(job_id, run_no, *chunks, worker_id="w1"):
    return [(job_id, worker_id, run_no, chunk) for chunk in chunks]


async def test_pieces_are_read_in_order_after_a_position(store):
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    first = OutputWrite(pieces("r", 1, Chunk(1, 0, b"one\n"), Chunk(2, 0, b"err\n")), [], [])
    await store.finish_jobs([], now=NOW + 1, output=first)
    await store.finish_jobs([], now=NOW + 2,
                            output=OutputWrite(pieces("r", 1, Chunk(1, 4, b"two\n")), [], []))
    got = await store.output_chunks("r", 1)
    assert [(c.stream, c.pos, c.data) for c in got] == [
        (1, 0, b"one\n"), (2, 0, b"err\n"), (1, 4, b"two\n")]
    assert [c.data for c in await store.output_chunks("r", 1, after=got[1].seq)] == [b"two\n"]
    assert await store.output_chunks("r", 2) == []


async def test_pieces_of_a_stale_worker_or_a_finished_attempt_are_not_written(store):
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    stale = OutputWrite(pieces("r", 1, Chunk(1, 0, b"x"), worker_id="w9"), [], [])
    await store.finish_jobs([], now=NOW + 1, output=stale)
    await store.finish_jobs([finish(claimed)], now=NOW + 2)
    late = OutputWrite(pieces("r", 1, Chunk(1, 0, b"x")), [], [])
    await store.finish_jobs([], now=NOW + 3, output=late)
    assert await store.output_chunks("r", 1) == []


async def test_the_last_piece_lands_with_the_finish_and_drops_remove_them_all(store):
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.finish_jobs([], now=NOW + 1,
                            output=OutputWrite(pieces("r", 1, Chunk(1, 0, b"a")), [], []))
    last = OutputWrite(pieces("r", 1, Chunk(1, 1, b"b")), [], [])
    await store.finish_jobs([finish(claimed)], now=NOW + 2, output=last)
    assert [c.data for c in await store.output_chunks("r", 1)] == [b"a", b"b"]
    await store.finish_jobs([], now=NOW + 3, output=OutputWrite([], [], [("r", 1)]))
    assert await store.output_chunks("r", 1) == []


async def test_trims_keep_the_head_and_the_tail_window(store):
    await store.insert_jobs([job("r")], now=NOW)
    await claim(store, 1)
    chunks = [Chunk(1, pos, b"0123456789") for pos in range(0, 60, 10)]
    await store.finish_jobs([], now=NOW + 1, output=OutputWrite(pieces("r", 1, *chunks), [], []))
    # head 20 bytes, tail 20: everything after the head that ended before 60 - 20 goes
    await store.finish_jobs([], now=NOW + 2, output=OutputWrite([], [("r", 1, 1, 20, 40)], []))
    assert [c.pos for c in await store.output_chunks("r", 1)] == [0, 10, 40, 50]


async def test_rescue_and_requeue_drop_the_pieces_of_the_attempt_they_end(store):
    await store.register_worker(worker())
    await store.insert_jobs([job("lost"), job("stopped")], now=NOW)
    await claim(store, 2)
    written = pieces("lost", 1, Chunk(1, 0, b"a")) + pieces("stopped", 1, Chunk(1, 0, b"b"))
    await store.finish_jobs([], now=NOW + 1, output=OutputWrite(written, [], []))
    await store.requeue_interrupted(worker_id="w1", jobs=[("stopped", 1)], now=NOW + 2)
    await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 20_000)
    assert await store.output_chunks("lost", 1) == []
    assert await store.output_chunks("stopped", 1) == []


# -- with the other Part 2 features --------------------------------------------------------------


async def test_cancel_a_batch_or_a_queue_takes_its_unfinished_jobs_only(store):
    await store.insert_jobs([job("b1", batch="nightly"), job("b2", batch="nightly"),
                             job("q1", queue="slow"), job("other", batch="x")], now=NOW)
    assert [j.id for j in await store.cancel_jobs(batch="nightly", now=NOW + 1)] == ["b1", "b2"]
    assert await store.cancel_jobs(batch="nightly", now=NOW + 2) == []
    assert [j.id for j in await store.cancel_jobs(queue="slow", now=NOW + 3)] == ["q1"]
    assert (await store.get_job("other")).state == "pending"


async def test_a_cancelled_job_takes_the_jobs_waiting_on_it_along(store):
    await store.insert_jobs([job("first"), job("second", after=("first",))], now=NOW)
    await store.cancel_jobs(ids=["first"], now=NOW + 1)
    second = await store.get_job("second")
    assert (second.state, second.attempts, second.last_error) == (
        "dead", 0, "dependency first failed")


async def test_purge_deletes_the_streamed_pieces_with_the_job(store):
    await store.insert_jobs([job("r")], now=NOW)
    (claimed,) = await claim(store, 1)
    left = OutputWrite(pieces("r", 1, Chunk(1, 0, b"a")), [], [])
    await store.finish_jobs([finish(claimed)], now=NOW + 1, output=left)  # a worker that exited
    assert await store.purge_jobs(state=JobState.COMPLETED, before=NOW + 10, limit=10) == 1
    assert await store.output_chunks("r", 1) == []
