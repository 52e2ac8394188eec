"""Attacks 6 and 7: wall-clock jumps (clocks injected in-process; the system clock is never
touched) and signals at bad moments (in-process where the moment must be exact, real
processes otherwise)."""

import asyncio
import os
import signal
import time

import pytest

from queuectl.engine import Engine
from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition, WorkerInfo
from queuectl.runner import run_command
from queuectl.settings import Settings
from queuectl.store import open_store
from queuectl.workers import is_alive

from .conftest import TAG_VAR, alive, counts, db_query, tagged_pids, wait_until

T0 = 1_900_000_000_000
HOUR = 3_600_000


# -- attack 6: time -------------------------------------------------------------------------


async def test_timeouts_and_durations_ignore_wall_clock_jumps(monkeypatch):
    wall = iter([T0, T0 - HOUR])  # started, then the clock steps back an hour
    monkeypatch.setattr("queuectl.runner.now_ms", lambda: next(wall, T0 - HOUR))
    t0 = time.monotonic()
    result = await run_command("sleep 5", timeout=0.3, output_limit=100, kill_grace=0.2)
    took = time.monotonic() - t0
    assert result.error == "timed out after 0.3s"
    assert took < 2
    assert 0.25 < result.duration < 2  # monotonic, although finished_at < started_at
    assert result.finished_at < result.started_at


async def failed_job_due_at(tmp_path, due: int):
    store = await open_store(str(tmp_path / "t.db"))
    await store.insert_jobs([NewJob("r", "false", max_retries=3)], now=T0)
    [job] = await store.claim_jobs(worker_id="w", limit=1, now=T0)
    result = RunResult(1, "exit code 1", T0, T0 + 10, 0.01)
    await store.finish_jobs([Finish("r", "w", job.run_no, Transition(JobState.FAILED, due),
                                    result)], now=T0 + 10)
    return store


async def test_a_retry_is_neither_lost_nor_early_when_the_clock_steps_back(tmp_path):
    due = T0 + 8_000
    store = await failed_job_due_at(tmp_path, due)
    try:
        assert await store.claim_jobs(worker_id="w2", limit=5, now=T0 - HOUR) == []  # back
        assert await store.claim_jobs(worker_id="w2", limit=5, now=due - 1) == []  # not early
        assert (await store.get_job("r")).state == JobState.FAILED  # not lost either
        assert await store.next_due_at() == due  # the engine's wake-up still knows it
        [job] = await store.claim_jobs(worker_id="w2", limit=5, now=due)
        assert (job.id, job.attempts) == ("r", 2)
    finally:
        await store.close()


async def test_a_forward_jump_makes_a_retry_due_early_but_never_loses_it(tmp_path):
    """Documented limitation: run_at is wall-clock time shared by every process (and host),
    so a forward step makes a pending retry due at once (early in elapsed time)."""
    store = await failed_job_due_at(tmp_path, T0 + 8_000)
    try:
        [job] = await store.claim_jobs(worker_id="w2", limit=5, now=T0 + HOUR)
        assert job.id == "r"
    finally:
        await store.close()


def test_idle_wait_never_sleeps_longer_than_the_poll_fallback():
    """A wake-up computed from wall-clock run_at cannot oversleep a backward step by more
    than POLL_S: the engine re-reads the store at least that often."""
    from queuectl import engine

    assert engine.POLL_S <= 1.0


def test_a_forward_clock_step_does_not_declare_a_live_local_worker_dead():
    import socket

    me = WorkerInfo("w", os.getpid(), socket.gethostname(), 1, T0, T0, 1)
    assert is_alive(me, now=T0 + 60_000, lease_s=10, host=socket.gethostname())


# -- attack 7: signals at bad moments ---------------------------------------------------------


class Hooked:
    """A real store whose verbs can run a hook at the worst moment."""

    def __init__(self, store, **hooks):
        self._store, self._hooks = store, hooks

    def __getattr__(self, name):
        real = getattr(self._store, name)
        hook = self._hooks.get(name)
        if hook is None:
            return real

        async def wrapped(*args, **kw):
            if hook.get("before"):
                hook["before"]()
            value = await real(*args, **kw)
            if hook.get("after"):
                hook["after"]()
            return value
        return wrapped


async def engine_on(tmp_path, jobs, **hooks):
    store = await open_store(str(tmp_path / "s.db"))
    await store.insert_jobs([NewJob(f"j{i}", cmd, max_retries=3) for i, cmd in enumerate(jobs)],
                            now=int(time.time() * 1000))
    lines = []
    engine = Engine(Hooked(store, **hooks), settings=Settings(kill_grace=0.2), concurrency=4,
                    log=lines.append)
    return store, engine, lines


async def test_sigterm_during_claim_hands_the_batch_back_uncharged(tmp_path):
    box = {}
    store, engine, _ = await engine_on(
        tmp_path, ["true"] * 3,
        claim_jobs={"after": lambda: box["engine"].on_signal(signal.SIGTERM)})
    box["engine"] = engine
    try:
        assert await asyncio.wait_for(engine.run(), 20) == 0
        for i in range(3):
            job = await store.get_job(f"j{i}")
            assert (job.state, job.attempts) == (JobState.PENDING, 0)
    finally:
        await store.close()


async def test_two_sigterms_during_persist_still_record_the_outcome(tmp_path):
    box = {}

    def hard_stop():
        box["engine"].on_signal(signal.SIGTERM)
        box["engine"].on_signal(signal.SIGTERM)

    store, engine, _ = await engine_on(tmp_path, ["echo done"], finish_jobs={"before": hard_stop})
    box["engine"] = engine
    try:
        await asyncio.wait_for(engine.run(), 20)
        job = await store.get_job("j0")
        assert (job.state, job.attempts, job.exit_code) == (JobState.COMPLETED, 1, 0)
    finally:
        await store.close()


@pytest.mark.timeout(60)
def test_sigterm_twice_quickly_kills_and_requeues_uncharged(rq, tmp_path, figures):
    pidfile = tmp_path / "job.pid"
    rq.ok("config", "set", "kill-grace", "1")
    rq.ok("enqueue", "--id", "long", f"echo $$ > {pidfile}; trap '' TERM; sleep 60")
    worker = rq.worker()
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 15, message="job started")
    job_pid = int(pidfile.read_text())
    t0 = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    time.sleep(0.01)
    worker.proc.send_signal(signal.SIGTERM)
    code = worker.wait(20)
    took = time.monotonic() - t0
    assert code == 128 + signal.SIGTERM, worker.log()
    assert not alive(job_pid)
    assert db_query(rq.db, "SELECT state, attempts FROM jobs") == [("pending", 0)]
    figures.record("signals-SIGTERM-twice", exit=code, stopped_after_s=round(took, 2),
                   job_state="pending", attempts_charged=0)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signals", [2, 3, 10])
def test_more_signals_during_the_hard_stop_change_nothing(rq, tmp_path, figures, signals):
    """Jobs that trap TERM (their kill needs the full grace, then KILL) and a burst of SIGINT/
    SIGTERM 0-200 ms apart: the worker exits only once every job process is dead."""
    import random

    rng = random.Random(signals)
    rq.ok("config", "set", "kill-grace", "1")
    started = tmp_path / "started"
    for n in range(3):
        rq.ok("enqueue", "--id", f"g{n}",
              f"echo g{n} >> {started}; trap 'sleep 8; exit 0' TERM; sleep 30 & wait")
    worker = rq.worker("-c", 3)
    wait_until(lambda: started.exists() and len(started.read_text().split()) == 3, 15,
               message="three jobs started")
    sent = [rng.choice([signal.SIGINT, signal.SIGTERM]) for _ in range(signals)]
    for sig in sent:
        worker.signal(sig)
        time.sleep(rng.uniform(0, 0.2))
    code = worker.wait(30)
    survivors = [pid for pid in tagged_pids(TAG_VAR, rq.tag) if pid != worker.pid]
    assert survivors == [], f"job processes outlived the worker: {survivors}\n{worker.log()}"
    assert code == 128 + sent[1], worker.log()  # the hard stop's signal; later ones change nothing
    assert db_query(rq.db, "SELECT state, attempts FROM jobs") == [("pending", 0)] * 3
    figures.record(f"signals-{signals}-during-hard-stop", exit=code, survivors=0,
                   jobs_requeued_uncharged=3)


@pytest.mark.timeout(90)
def test_sigkill_right_after_a_claim(rq, tmp_path, figures):
    runs = tmp_path / "runs"
    rq.ok("enqueue", "--id", "k", f"echo $$ >> {runs}; sleep 2; echo end >> {runs}")
    worker = rq.worker()
    wait_until(lambda: counts(rq.db)["processing"] == 1, 15, 0.005, "the claim")
    os.kill(worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    worker.wait(10)
    rq.worker()
    wait_until(lambda: counts(rq.db)["completed"] == 1, 30, 0.05, "the job rescued and run")
    recovered = time.monotonic() - killed_at
    history = db_query(rq.db, "SELECT error FROM attempts WHERE job_id='k' ORDER BY n")
    assert history[0] == ("worker lost",) and history[-1] == (None,), history
    time.sleep(2.5)  # an orphan that escaped the rescuer would write a second "end" by now
    lines = runs.read_text().split() if runs.exists() else []
    # killed before its pid was recorded, the first run is found by the worker id in its
    # environment and killed before the job is requeued: only the rerun finishes
    assert lines.count("end") == 1, lines
    figures.record("signals-SIGKILL-after-claim", recovered_after_s=round(recovered, 2),
                   executions_started=len([x for x in lines if x != "end"]),
                   executions_finished=lines.count("end"), lost=0)


@pytest.mark.timeout(90)
def test_worker_stop_racing_with_worker_start(rq, figures):
    import threading

    rq.enqueue_many({"id": f"w{i}", "command": "sleep 0.05"} for i in range(100))
    first = rq.worker("-c", 2)
    wait_until(lambda: len(rq.json("worker", "list", "--json")) == 1, 15, 0.1, "first worker")
    result = {}
    stopper = threading.Thread(target=lambda: result.setdefault(
        "stop", rq.run("worker", "stop", "--timeout", "20")))
    stopper.start()
    second = rq.worker("-c", 2)
    stopper.join(40)
    assert result["stop"].returncode == 0, result["stop"]
    assert first.wait(20) == 0
    if second.proc.poll() is None:  # it registered after the request: it must still obey one
        assert rq.run("worker", "stop", "--timeout", "20").returncode == 0
    assert second.wait(20) == 0
    rq.ok("worker", "start", "--drain", timeout=60)
    assert counts(rq.db)["completed"] == 100
    figures.record("signals-stop-vs-start", stop_exit=0, workers_exit="0, 0", lost=0)
