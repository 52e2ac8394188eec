"""The worker engine with real subprocesses (and an in-process runner): drain, retries,
timeouts, soft and hard stop, rescue. Synchronised on files, events and store state."""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections import Counter

from queuectl.engine import Engine
from queuectl.jobs import NewJob, RunResult, WorkerInfo
from queuectl.runner import run_command
from queuectl.timeutil import now_ms

from .conftest import FAST
from .procs import group_alive, wait_dead, wait_for_pid


def job(job_id, command="true", **fields):
    fields.setdefault("max_retries", 3)
    return NewJob(id=job_id, command=command, **fields)


def engine(store, *, concurrency=2, drain=True, settings=FAST, runner=None, log=None,
           monotonic=None):
    lines = []
    kwargs = {"runner": runner} if runner else {}
    if monotonic is not None:
        kwargs["monotonic"] = monotonic
    eng = Engine(store, settings=settings, concurrency=concurrency, drain=drain,
                 log=log or lines.append, **kwargs)
    eng.lines = lines
    return eng


async def drain(store, **kwargs):
    eng = engine(store, **kwargs)
    code = await asyncio.wait_for(eng.run(), 60)
    return code, eng


def spawn_signalling_runner():
    """run_command that sets an event once the shell is spawned and the runner owns it (a stop
    that lands inside asyncio's subprocess spawn is a known runner bug, see test_runner.py)."""
    spawned, pids = asyncio.Event(), []

    async def run(command, *, on_spawn=None, **kwargs):
        def note(pid):
            if on_spawn is not None:
                on_spawn(pid)
            pids.append(pid)
            spawned.set()
        return await run_command(command, on_spawn=note, **kwargs)

    run.spawned, run.pids = spawned, pids
    return run


async def insert(store, *jobs):
    return await store.insert_jobs(list(jobs), now=now_ms())


# -- draining -------------------------------------------------------------------------------


async def test_drains_a_batch_to_the_right_states(store):
    await insert(store, *[job(f"ok{i}") for i in range(8)],
                 *[job(f"bad{i}", "exit 1", max_retries=0) for i in range(4)])
    code, eng = await drain(store, concurrency=4)
    assert code == 0
    counts = await store.count_by_state()
    assert (counts["completed"], counts["dead"], counts["pending"], counts["processing"]) == (8, 4, 0, 0)
    bad = await store.get_job("bad0")
    assert (bad.exit_code, bad.last_error, bad.attempts) == (1, "exit code 1", 1)
    assert (await store.get_job("ok0")).exit_code == 0
    assert await store.list_workers() == []  # deregistered on the way out
    assert any("drained" in line for line in eng.lines)
    assert sum(" completed " in f" {line} " for line in eng.lines) == 8


async def test_drain_on_an_empty_store_exits_at_once(store):
    code, eng = await drain(store)
    assert code == 0


async def test_output_is_captured_per_attempt(store):
    await insert(store, job("a", "echo hello; echo oops >&2"))
    await drain(store)
    out = await store.output("a", None)
    assert (out.attempt, out.stdout, out.stderr) == (1, b"hello\n", b"oops\n")


async def test_every_job_carries_its_worker_and_its_own_id_in_its_environment(store):
    """Spawns overlap (20 jobs, 10 slots): each must still see its own id, as the rescuer
    relies on it to kill exactly a dead worker's jobs."""
    ids = [f"j{i}" for i in range(20)]
    await insert(store, *[job(i, 'echo "$QUEUECTL_WORKER_ID $QUEUECTL_JOB_ID"; sleep 0.05')
                          for i in ids])
    code, eng = await drain(store, concurrency=10)
    for job_id in ids:
        out = await store.output(job_id, None)
        assert out.stdout.decode().split() == [eng.worker_id, job_id]


async def test_retries_with_backoff_then_dead(store):
    await insert(store, job("flaky", "exit 1", max_retries=2))
    await drain(store)
    dead = await store.get_job("flaky")
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "exit code 1")
    history = await store.attempts("flaky")
    assert [(a.n, a.error) for a in history] == [(n, "exit code 1") for n in (1, 2, 3)]
    for before, after in zip(history, history[1:], strict=False):
        assert after.started_at >= before.finished_at + 50  # waited backoff_max (50 ms)


async def test_backoff_settings_are_read_from_the_store_when_the_failure_happens(store, eventually):
    """The contract: backoff-base is read when a failure happens. The engine starts with FAST
    (backoff-max 50 ms); `config set` after it started must decide the retry's wait."""
    eng = engine(store, drain=False)
    task = asyncio.create_task(eng.run())
    try:
        await store.set_config("backoff-base", "3")
        await store.set_config("backoff-max", "600")
        await insert(store, job("flaky", "exit 1", max_retries=1))

        async def failed():
            return (await store.get_job("flaky")).state == "failed"

        await eventually(failed)
        job_now = await store.get_job("flaky")
        (attempt,) = await store.attempts("flaky")
        assert job_now.run_at - attempt.finished_at == 3000  # 3 ** 1 s, not FAST's 50 ms
    finally:
        eng.stop(hard=True)
        await asyncio.wait_for(task, 30)


async def test_a_retry_that_succeeds_completes(store, tmp_path):
    marker = tmp_path / "failed-once"
    await insert(store, job("a", f"test -e {marker} || {{ touch {marker}; exit 1; }}"))
    await drain(store)
    done = await store.get_job("a")
    assert (done.state, done.attempts, done.exit_code, done.last_error) == ("completed", 2, 0, None)


async def test_scheduled_job_runs_when_due(store):
    due = now_ms() + 300
    await insert(store, job("later", run_at=due))
    await drain(store)
    (attempt,) = await store.attempts("later")
    assert attempt.started_at >= due
    assert (await store.get_job("later")).state == "completed"


async def test_timeout_fails_the_attempt_and_kills_the_group(store, tmp_path):
    gc = tmp_path / "gc.pid"
    await insert(store, job("slow", f"sleep 30 & echo $! > {gc}; wait", timeout=0.3, max_retries=0))
    t0 = time.monotonic()
    await drain(store)
    assert time.monotonic() - t0 < 10
    slow = await store.get_job("slow")
    assert (slow.state, slow.last_error, slow.exit_code) == ("dead", "timed out after 0.3s", None)
    assert await wait_dead(int(gc.read_text()))


async def test_config_job_timeout_applies_when_the_job_sets_none(store):
    await insert(store, job("slow", "sleep 30", max_retries=0))
    await drain(store, settings=FAST._replace(job_timeout=0.3))
    assert (await store.get_job("slow")).last_error == "timed out after 0.3s"


# -- stopping --------------------------------------------------------------------------------


async def test_soft_stop_lets_the_running_job_finish_and_claims_nothing_new(store, tmp_path, eventually):
    started, go = tmp_path / "started", tmp_path / "go"
    await insert(store, job("running", f"touch {started}; while [ ! -e {go} ]; do sleep 0.01; done"),
                 job("next"))
    eng = engine(store, concurrency=1, drain=False)
    task = asyncio.create_task(eng.run())
    await eventually(started.exists)
    eng.stop()
    go.touch()
    assert await asyncio.wait_for(task, 10) == 0
    assert (await store.get_job("running")).state == "completed"
    nxt = await store.get_job("next")
    assert (nxt.state, nxt.attempts) == ("pending", 0)


async def test_hard_stop_kills_the_job_and_requeues_it_uncharged(store, tmp_path):
    pidfile = tmp_path / "pid"
    await insert(store, job("long", f"echo $$ > {pidfile}; sleep 30"))
    runner = spawn_signalling_runner()
    eng = engine(store, concurrency=1, drain=False, runner=runner)
    task = asyncio.create_task(eng.run())
    await asyncio.wait_for(runner.spawned.wait(), 10)
    pid = await wait_for_pid(pidfile)
    t0 = time.monotonic()
    eng.stop(hard=True, exit_code=130)
    assert await asyncio.wait_for(task, 10) == 130
    assert time.monotonic() - t0 < 5
    assert not group_alive(pid)
    long = await store.get_job("long")
    assert (long.state, long.attempts, long.run_no, long.worker_id) == ("pending", 0, 0, None)
    assert await store.attempts("long") == []
    assert any("requeued" in line for line in eng.lines)


async def test_hard_stop_requeues_every_running_job(store, eventually):
    await insert(store, *[job(f"j{i}", "sleep 30") for i in range(3)], job("waiting"))
    runner = spawn_signalling_runner()
    eng = engine(store, concurrency=3, drain=False, runner=runner)
    task = asyncio.create_task(eng.run())
    await eventually(lambda: len(runner.pids) == 3)
    eng.stop(hard=True, exit_code=143)
    assert await asyncio.wait_for(task, 10) == 143
    assert not any(group_alive(pid) for pid in runner.pids)
    jobs = [j async for j in store.iter_jobs()]
    assert [(j.state, j.attempts) for j in jobs] == [("pending", 0)] * 4


async def test_second_signal_escalates_to_a_hard_stop(store):
    await insert(store, job("long", "sleep 30"))
    runner = spawn_signalling_runner()
    eng = engine(store, concurrency=1, drain=False, runner=runner)
    task = asyncio.create_task(eng.run())
    await asyncio.wait_for(runner.spawned.wait(), 10)
    eng.on_signal(signal.SIGTERM)
    assert not task.done()
    eng.on_signal(signal.SIGTERM)
    assert await asyncio.wait_for(task, 10) == 128 + signal.SIGTERM
    assert (await store.get_job("long")).state == "pending"


async def test_stop_requested_through_the_store(store, tmp_path, eventually):
    eng = engine(store, drain=False)
    task = asyncio.create_task(eng.run())
    await eventually(lambda: _registered(store, eng.worker_id))
    await store.request_stop()
    assert await asyncio.wait_for(task, 10) == 0


async def _registered(store, worker_id):
    return worker_id in [w.id for w in await store.list_workers()]


# -- rescue ------------------------------------------------------------------------------------


async def dead_pid():
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


def tagged(worker_id, job_id=None):
    """A process group in its own session, tagged as a job of `worker_id` would be."""
    env = {**os.environ, "QUEUECTL_WORKER_ID": worker_id}
    if job_id is not None:
        env["QUEUECTL_JOB_ID"] = job_id
    else:
        env.pop("QUEUECTL_JOB_ID", None)
    return subprocess.Popen(["sh", "-c", "sleep 30 & wait"], start_new_session=True, env=env)


def reap(*procs):
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def test_rescue_once_kills_a_dead_workers_jobs_before_requeueing_them(store):
    """The dead worker's running job is found by its environment (no pid recorded anywhere)
    and killed before the job is requeued; a daemon left by another job of that worker, and a
    stranger, are left alone."""
    now = now_ms()
    await store.register_worker(WorkerInfo("ghost", await dead_pid(), socket.gethostname(), 1, now, now))
    await insert(store, job("a"))
    await store.claim_jobs(worker_id="ghost", limit=1, now=now_ms())
    orphan, daemon, stranger = tagged("ghost", "a"), tagged("ghost", "old-job"), tagged("other", "a")
    seen_when_requeued = []
    real_rescue = store.rescue_lost_jobs

    async def rescue_lost_jobs(**kwargs):  # what is alive at the moment of the requeue?
        seen_when_requeued.append(group_alive(orphan.pid))
        return await real_rescue(**kwargs)

    store.rescue_lost_jobs = rescue_lost_jobs
    try:
        assert await engine(store).rescue_once() == 1
        assert await asyncio.to_thread(orphan.wait, 5) == -signal.SIGKILL
        assert seen_when_requeued == [False]  # killed first, then requeued
        assert group_alive(daemon.pid) and group_alive(stranger.pid)
    finally:
        del store.rescue_lost_jobs
        reap(orphan, daemon, stranger)
    rescued = await store.get_job("a")
    assert (rescued.state, rescued.attempts, rescued.last_error) == ("pending", 1, "worker lost")
    assert await store.list_workers() == []


async def test_rescue_once_leaves_a_live_worker_alone(store):
    now = now_ms()
    await store.register_worker(WorkerInfo("alive", os.getpid(), socket.gethostname(), 1, now, now))
    await insert(store, job("a"))
    await store.claim_jobs(worker_id="alive", limit=1, now=now_ms())
    assert await engine(store).rescue_once() == 0
    assert (await store.get_job("a")).state == "processing"


async def test_rescue_once_uses_the_lease_for_other_hosts_and_kills_nothing(store, eventually):
    victim = tagged("far", "a")  # as if "far" ran on this machine: it does not
    try:
        stale = now_ms() - 60_000
        await store.register_worker(WorkerInfo("far", victim.pid, "another-host", 1, stale, stale))
        await insert(store, job("a"))
        await store.claim_jobs(worker_id="far", limit=1, now=now_ms())
        eng = engine(store, settings=FAST._replace(worker_lease=0.2))
        rescued = []

        async def rescue():
            rescued.append(await eng.rescue_once())
            return sum(rescued) == 1

        await eventually(rescue, timeout=10)  # no heartbeat for a lease: dead
        assert group_alive(victim.pid)  # not ours to kill: it lives on another host
    finally:
        reap(victim)
    assert (await store.get_job("a")).state == "pending"


async def test_a_running_engine_rescues_and_reruns_a_lost_job(store):
    now = now_ms()
    await store.register_worker(WorkerInfo("ghost", await dead_pid(), socket.gethostname(), 1, now, now))
    await insert(store, job("a", "echo again"))
    await store.claim_jobs(worker_id="ghost", limit=1, now=now_ms())
    await drain(store)
    done = await store.get_job("a")
    assert (done.state, done.attempts) == ("completed", 2)
    assert [(t.n, t.error) for t in await store.attempts("a")] == [(1, "worker lost"), (2, None)]


# -- an in-process runner ------------------------------------------------------------------------


def fake_runner(calls, *, fail=(), delay=0.0, gauge=None):
    async def run(command, *, timeout, output_limit, kill_grace, on_spawn=None, env_update=None,
                  **job_context):
        started = now_ms()
        calls.append(command)
        if gauge is not None:
            gauge["now"] += 1
            gauge["max"] = max(gauge["max"], gauge["now"])
        try:
            if delay:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
        finally:
            if gauge is not None:
                gauge["now"] -= 1
        code = 1 if command in fail else 0
        return RunResult(code, "exit code 1" if code else None, started, now_ms(),
                         (now_ms() - started) / 1000, b"in-process\n")
    return run


async def test_custom_runner_runs_every_job_exactly_once(store):
    calls = []
    await insert(store, *[job(f"j{i}", f"cmd {i}") for i in range(200)])
    code, _ = await drain(store, concurrency=8, runner=fake_runner(calls))
    assert code == 0
    assert Counter(calls) == Counter(f"cmd {i}" for i in range(200))
    assert (await store.count_by_state())["completed"] == 200
    assert (await store.output("j7", None)).stdout == b"in-process\n"


async def test_custom_runner_failures_follow_the_retry_rules(store):
    calls = []
    await insert(store, job("bad", "boom", max_retries=1), job("good", "fine"))
    await drain(store, runner=fake_runner(calls, fail={"boom"}))
    assert Counter(calls) == {"boom": 2, "fine": 1}
    assert (await store.get_job("bad")).state == "dead"


async def test_concurrency_is_the_number_of_slots(store):
    gauge = {"now": 0, "max": 0}
    await insert(store, *[job(f"j{i}") for i in range(12)])
    await drain(store, concurrency=3, runner=fake_runner([], delay=0.05, gauge=gauge))
    assert gauge["max"] == 3


async def test_one_slot_runs_by_priority_then_fifo(store):
    calls = []
    await insert(store, job("a", "a"), job("b", "b", priority=5), job("c", "c"),
                 job("d", "d", priority=5), job("e", "e", priority=-1))
    await drain(store, concurrency=1, runner=fake_runner(calls))
    assert calls == ["b", "d", "a", "c", "e"]


async def test_two_engines_on_one_store_share_the_work(store, tmp_path):
    from queuectl.store.sqlite import SqliteStore

    calls = []
    await insert(store, *[job(f"j{i}", f"cmd {i}") for i in range(150)])
    second = await SqliteStore.open(tmp_path / "queue.db")
    try:
        first_eng = engine(store, concurrency=4, runner=fake_runner(calls, delay=0.002))
        second_eng = engine(second, concurrency=4, runner=fake_runner(calls, delay=0.002))
        codes = await asyncio.wait_for(asyncio.gather(first_eng.run(), second_eng.run()), 60)
    finally:
        await second.close()
    assert codes == [0, 0]
    assert Counter(calls) == Counter(f"cmd {i}" for i in range(150))
