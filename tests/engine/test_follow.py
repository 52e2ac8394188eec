"""follow.Follower on a real store, the worker played step by step: each poll's sleep makes
the next move, so every interleaving here is deterministic."""

from queuectl.follow import Follower
from queuectl.jobs import Chunk, Finish, JobState, OutputWrite, RunResult, Transition
from queuectl.timeutil import now_ms

from .test_engine import insert, job


def steps(*moves):
    """A sleep that performs the next move (an async function) at each poll."""
    pending = list(moves)

    async def sleep(_seconds):
        if pending:
            await pending.pop(0)()
    return sleep


async def follow(store, job_id, sleep):
    out = {1: b"", 2: b""}
    async for stream, data in Follower(store, job_id, poll=0, sleep=sleep).pieces():
        out[stream] += data
    return out[1], out[2]


def write(store, job_id, *chunks, run_no=1):
    async def move():
        rows = [(job_id, "w1", run_no, c) for c in chunks]
        await store.finish_jobs([], now=now_ms(), output=OutputWrite(rows, [], []))
    return move


def end(store, job_id, stdout, stderr=b"", *, run_no=1, drop=True):
    async def move():
        result = RunResult(0, None, now_ms(), now_ms(), 0.1, stdout, stderr)
        finish = Finish(job_id, "w1", run_no, Transition(JobState.COMPLETED, None), result)
        drops = [(job_id, run_no)] if drop else []
        await store.finish_jobs([finish], now=now_ms(), output=OutputWrite([], [], drops))
    return move


async def claim(store):
    return await store.claim_jobs(worker_id="w1", limit=1, now=now_ms())


async def test_the_rest_comes_from_the_attempt_row_when_the_pieces_were_dropped(store):
    await insert(store, job("j"))
    await claim(store)
    sleep = steps(write(store, "j", Chunk(1, 0, b"one\n")), end(store, "j", b"one\ntwo\n"))
    assert await follow(store, "j", sleep) == (b"one\ntwo\n", b"")


async def test_a_pending_job_is_followed_from_its_next_attempt(store):
    await insert(store, job("j"))

    async def start():
        await claim(store)
    sleep = steps(start, write(store, "j", Chunk(1, 0, b"a"), Chunk(2, 0, b"e")),
                  end(store, "j", b"ab", b"e", drop=False))
    assert await follow(store, "j", sleep) == (b"ab", b"e")


async def test_an_undone_attempt_is_followed_by_the_next(store):
    await insert(store, job("j"))
    await claim(store)

    async def hard_stop():
        await store.requeue_interrupted(worker_id="w1", jobs=[("j", 1)], now=now_ms())
    sleep = steps(write(store, "j", Chunk(1, 0, b"lost\n")), hard_stop, claim_move(store),
                  end(store, "j", b"again\n"))
    assert await follow(store, "j", sleep) == (b"lost\nagain\n", b"")


async def test_after_a_gap_dropped_pieces_are_pointed_to(store):
    await insert(store, job("j"))
    await claim(store)
    sleep = steps(write(store, "j", Chunk(1, 0, b"head"), Chunk(1, 100, b"tail")),
                  end(store, "j", b"head[cut]tail-end"))
    out, err = await follow(store, "j", sleep)
    assert out == b"head\n[queuectl: 96 bytes truncated]\ntail"
    assert b"queuectl logs j --attempt 1" in err


def claim_move(store):
    async def move():
        await claim(store)
    return move


async def test_a_follower_past_the_head_whose_last_pieces_were_dropped_is_pointed_to(store):
    await insert(store, job("j"))
    await claim(store)
    stored = b"a" * 5 + b"\n[queuectl: 600 bytes truncated]\n" + b"b" * 5
    sleep = steps(write(store, "j", Chunk(1, 0, b"a" * 600)), end(store, "j", stored))
    out, err = await follow(store, "j", sleep)
    assert out == b"a" * 600  # never a piece of the marker or of a tail it cannot place
    assert b"queuectl logs j --attempt 1" in err
