"""The engine with real subprocesses: `cancel` of a running job (doorbell, heartbeat fallback,
a hard stop overtaking it) and output streamed to the store while a job runs."""

import asyncio
import time

from queuectl import slots
from queuectl.store import doorbell

from .conftest import FAST
from .procs import group_alive, wait_for_pid
from .test_engine import engine, insert, job, spawn_signalling_runner


async def start(store, **kwargs):
    runner = spawn_signalling_runner()
    eng = engine(store, drain=False, runner=runner, **kwargs)
    return eng, runner, asyncio.create_task(eng.run())


async def test_a_cancel_stops_the_group_at_once_and_the_job_ends_dead(store, tmp_path, eventually):
    pidfile = tmp_path / "pid"
    await insert(store, job("long", f"echo started; echo $$ > {pidfile}; sleep 30 & wait",
                            max_retries=5), job("other", "sleep 30"))
    eng, runner, task = await start(store)
    pid = await wait_for_pid(pidfile)
    t0 = time.monotonic()
    (flagged,) = await store.cancel_jobs(ids=["long"], now=0)
    assert flagged.state == "processing"
    await eventually(lambda: not group_alive(pid), timeout=5)
    assert time.monotonic() - t0 < 2  # FAST kill-grace 0.2 s; the doorbell wakes the worker
    await eventually(lambda: _state(store, "long", "dead"))
    long = await store.get_job("long")
    assert (long.last_error, long.attempts, long.exit_code) == ("cancelled", 1, None)
    assert [a.error for a in await store.attempts("long")] == ["cancelled"]
    assert (await store.output("long", None)).stdout == b"started\n"
    assert (await store.get_job("other")).state == "processing"  # only the cancelled one
    eng.stop(hard=True)
    await asyncio.wait_for(task, 10)
    assert any(line.split()[1] == "cancel" for line in eng.lines)


async def test_without_a_doorbell_the_heartbeat_tells_the_worker(store, tmp_path, eventually,
                                                               monkeypatch):
    monkeypatch.setattr(doorbell, "ring", lambda *args, **kwargs: None)
    pidfile = tmp_path / "pid"
    await insert(store, job("long", f"echo $$ > {pidfile}; sleep 30"))
    eng, runner, task = await start(store, settings=FAST._replace(worker_lease=2.0))
    pid = await wait_for_pid(pidfile)
    await store.cancel_jobs(ids=["long"], now=0)
    await eventually(lambda: not group_alive(pid), timeout=3)  # heartbeats every 0.4 s
    await eventually(lambda: _state(store, "long", "dead"))
    eng.stop()
    assert await asyncio.wait_for(task, 10) == 0


async def test_a_hard_stop_overtaking_a_cancel_still_ends_the_job_dead(store, tmp_path,
                                                                     eventually):
    pidfile = tmp_path / "pid"
    await insert(store, job("stubborn", f"trap '' TERM; echo $$ > {pidfile}; sleep 30 & wait"))
    eng, runner, task = await start(store, settings=FAST._replace(kill_grace=5.0))
    pid = await wait_for_pid(pidfile)
    await store.cancel_jobs(ids=["stubborn"], now=0)
    # then the worker is in the 5 s grace after the cancel's TERM
    await eventually(lambda: any(line.split()[1] == "cancel" for line in eng.lines))
    eng.stop(hard=True, exit_code=130)
    assert await asyncio.wait_for(task, 10) == 130
    assert not group_alive(pid)
    stubborn = await store.get_job("stubborn")
    assert (stubborn.state, stubborn.last_error, stubborn.attempts) == ("dead", "cancelled", 1)


async def _state(store, job_id, state):
    return (await store.get_job(job_id)).state == state


# -- streamed output ------------------------------------------------------------------------


async def test_output_reaches_the_store_while_the_job_runs(store, tmp_path, eventually,
                                                          monkeypatch):
    monkeypatch.setattr(slots, "FOLLOW_GRACE_S", 0.3)
    go = tmp_path / "go"
    await insert(store, job("chatty", f"echo one; echo err >&2; "
                                      f"while [ ! -e {go} ]; do sleep 0.01; done; echo two"))
    eng, runner, task = await start(store)
    await eventually(lambda: _pieces(store, "chatty", {(1, 0, b"one\n"), (2, 0, b"err\n")}))
    assert (await store.get_job("chatty")).state == "processing"
    go.touch()
    await eventually(lambda: _state(store, "chatty", "completed"))
    assert (await store.output("chatty", None)).stdout == b"one\ntwo\n"
    await eventually(lambda: _pieces(store, "chatty", set()))  # dropped after the grace
    eng.stop()
    assert await asyncio.wait_for(task, 10) == 0


async def test_a_silent_job_and_a_quick_job_write_no_piece(store, eventually, monkeypatch):
    written = []
    real = store.finish_jobs

    async def spy(finishes, *, now, output=None):
        written.append(output)
        return await real(finishes, now=now, output=output)

    monkeypatch.setattr(store, "finish_jobs", spy)
    await insert(store, job("silent", "sleep 0.6"), job("quick", "echo hi"))
    eng, runner, task = await start(store)
    await eventually(lambda: _state(store, "silent", "completed"))
    await eventually(lambda: _state(store, "quick", "completed"))
    eng.stop()
    await asyncio.wait_for(task, 10)
    assert written and all(output is None for output in written)
    assert (await store.output("quick", None)).stdout == b"hi\n"


async def test_a_flood_is_stored_within_the_output_limit(store, eventually):
    limit = 4096
    await insert(store, job("flood", "yes | head -c 200000; sleep 30"))
    eng, runner, task = await start(store, settings=FAST._replace(output_limit=limit))
    await eventually(lambda: _stored_bytes(store, "flood", 200000 - limit // 2))
    stored = sum(len(c.data) for c in await store.output_chunks("flood", 1))
    assert stored <= limit + limit // 2  # head + tail, and at most one piece across the cut
    eng.stop(hard=True)
    await asyncio.wait_for(task, 10)


async def _pieces(store, job_id, expected):
    return {(c.stream, c.pos, c.data) for c in await store.output_chunks(job_id, 1)} == expected


async def _stored_bytes(store, job_id, end_at_least):
    chunks = await store.output_chunks(job_id, 1)
    return any(c.pos + len(c.data) >= end_at_least for c in chunks)
