"""P6: an idle `queuectl worker start --concurrency 50`: how soon does an enqueued job start, and how
close to its run_at does a retry start? P6-pg: the first on a PostgreSQL store (LISTEN/NOTIFY).
P6-bunched: jobs whose run_ats are 2 ms apart; P6-retry-other: a retry that another worker
scheduled a few ms ahead (this process plays that worker) -- both used to wait for the 1 s poll.

Enqueue goes through the store API in this process (insert + doorbell, what `queuectl enqueue`
does after parsing). Each job runs `date +%s%N`, so "start" is when the command itself ran,
read back from its captured stdout -- not when the engine meant to start it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time

from .common import QUEUECTL, BenchError, Row, Store, cli_env, percentile, say, scratch, scratch_store

RETRY_DELAY_S = 0.25  # backoff-max: the first retry is due 250 ms after the failure


async def _wait_output(store, job_id: str, timeout: float = 10.0) -> str:
    from queuectl.errors import JobNotFoundError

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(JobNotFoundError):
            out = await store.output(job_id, None)
            text = out.stdout.decode().strip()
            if text:
                return text
        if time.monotonic() > deadline:
            raise BenchError(f"P6: job {job_id} did not run within {timeout}s")
        await asyncio.sleep(0.003)


async def _wait_worker(store, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await store.list_workers():
        if time.monotonic() > deadline:
            raise BenchError("P6: the worker did not register")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # let it settle into its idle wait


async def _measure(db: Store, tmp, samples: int, retries: int, bunched_rounds: int = 0,
                   other_retries: int = 0) -> tuple[list, ...]:
    from queuectl.jobs import NewJob
    from queuectl.store import open_store
    from queuectl.timeutil import now_ms

    store = await open_store(str(db))
    await store.set_config("backoff-max", str(RETRY_DELAY_S))
    log = open(tmp / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen([QUEUECTL, "worker", "start", "--concurrency", "50"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                              env=cli_env(db, tmp), cwd=tmp, start_new_session=True)
    try:
        await _wait_worker(store)
        starts, engine_starts = [], []
        for i in range(samples):
            job_id = f"lat-{i:05d}"
            t0 = time.time_ns()
            await store.insert_jobs([NewJob(job_id, "date +%s%N", max_retries=0)], now=now_ms())
            started_ns = int(await _wait_output(store, job_id))
            starts.append((started_ns - t0) / 1e6)
            attempt = (await store.attempts(job_id))[-1]
            engine_starts.append(attempt.started_at - t0 / 1e6)
            await asyncio.sleep(random.uniform(0.005, 0.025))  # idle again, at a random phase

        flags = tmp / "flags"
        flags.mkdir()
        ids = []
        for i in range(retries):  # each fails once, then its retry is due RETRY_DELAY_S later
            job_id = f"retry-{i:05d}"
            flag = flags / job_id
            command = f"if [ -e {flag} ]; then date +%s%N; else : > {flag}; exit 1; fi"
            await store.insert_jobs([NewJob(job_id, command, max_retries=1)], now=now_ms())
            ids.append(job_id)
            await asyncio.sleep(0.02)
        lateness = []
        for job_id in ids:
            started_ms = int(await _wait_output(store, job_id)) / 1e6
            job = await store.get_job(job_id)
            history = await store.attempts(job_id)
            due = job.run_at
            if due < history[0].finished_at:  # run_at not kept after completion: recompute
                due = history[0].finished_at + RETRY_DELAY_S * 1000
            lateness.append(started_ms - due)
        if not bunched_rounds:
            return starts, engine_starts, lateness, [], []
        bunched = await _bunched_lateness(store, bunched_rounds)
        by_other = await _retry_by_other_lateness(store, other_retries)
        return starts, engine_starts, lateness, bunched, by_other
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
        await store.close()


async def _started_ms(store, job_id: str) -> float:
    """When the command itself ran (its `date +%s%N`, the first line of its output)."""
    return int((await _wait_output(store, job_id)).split()[0]) / 1e6


async def _bunched_lateness(store, rounds: int, jobs: int = 10, gap_ms: int = 2) -> list[float]:
    """Rounds of `jobs` jobs due `gap_ms` apart; each holds its slot for a second, so no freed
    slot wakes the worker: start - run_at for every job."""
    from queuectl.jobs import NewJob
    from queuectl.timeutil import now_ms

    lateness = []
    for r in range(rounds):
        base = now_ms() + 200
        due = {f"bunch-{r}-{i}": base + i * gap_ms for i in range(jobs)}
        await store.insert_jobs([NewJob(job_id, "date +%s%N; sleep 1", max_retries=0, run_at=at)
                                 for job_id, at in due.items()], now=now_ms())
        for job_id, at in due.items():
            lateness.append(await _started_ms(store, job_id) - at)
        await asyncio.sleep(1.2)  # the slots free again
    return lateness


async def _retry_by_other_lateness(store, samples: int) -> list[float]:
    """This process acts as another worker: it claims a job, fails it and schedules its retry
    0-10 ms ahead, as a busy worker's group commit does. start - run_at of each retry."""
    from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition, WorkerInfo
    from queuectl.timeutil import now_ms
    from queuectl.workers import this_host

    now = now_ms()
    me = f"bench-other-{os.getpid()}"
    await store.register_worker(WorkerInfo(me, os.getpid(), this_host(), 1, now, now))
    lateness = []
    for i in range(samples):
        job_id, later = f"other-{i:04d}", now_ms() + 600_000  # not due: the idle worker waits
        await store.insert_jobs([NewJob(job_id, "date +%s%N", max_retries=1, run_at=later)],
                                now=now_ms())
        (job,) = await store.claim_jobs(worker_id=me, limit=1, now=later)
        due = now_ms() + random.randint(0, 10)
        failed = RunResult(1, "exit code 1", now_ms(), now_ms(), 0.001)
        await store.finish_jobs([Finish(job_id, me, job.run_no,
                                        Transition(JobState.FAILED, due), failed)], now=now_ms())
        lateness.append(await _started_ms(store, job_id) - due)
        await asyncio.sleep(random.uniform(0.005, 0.025))
    await store.deregister_worker(me)
    return lateness


def p6(quick: bool) -> list[Row]:
    samples, retries, rounds, others = (50, 30, 2, 30) if quick else (200, 100, 5, 100)
    with scratch("p6") as tmp:
        say(f"P6: idle worker, {samples} enqueue -> start samples, {retries} retries, "
            f"{rounds} x 10 bunched run_ats, {others} retries by another worker ...")
        starts, engine_starts, lateness, bunched, by_other = asyncio.run(
            _measure(tmp / "q.db", tmp, samples, retries, rounds, others))
    start_row = Row(
        "P6", f"idle worker x 50: enqueue -> command start, {samples} samples", "ms p50",
        percentile(starts, 50), None, 10, goal_on="queuectl", goal_op="<=", reference_label="-",
        detail={"samples": samples, "p95_ms": percentile(starts, 95),
                "p99_ms": percentile(starts, 99), "max_ms": max(starts),
                "engine_spawn_p50_ms": percentile(engine_starts, 50)})
    retry_row = Row(
        "P6-retry", f"retry start - its run_at, {retries} retries", "ms p99",
        percentile(lateness, 99), None, 50, goal_on="queuectl", goal_op="<=",
        reference_label="-",
        detail={"samples": retries, "p50_ms": percentile(lateness, 50),
                "min_ms": min(lateness), "max_ms": max(lateness)})
    # Ten jobs due within 18 ms start one spawn after another (~5 ms each on 2 busy cores):
    # the last is ~50 ms late at best; the poll fallback they used to wait for is 1,000 ms.
    return [start_row, retry_row, _lateness_row("P6-bunched", f"{rounds} x 10 jobs with run_ats "
                                                "2 ms apart: start - run_at", bunched, goal=100),
            _lateness_row("P6-retry-other", f"retry scheduled 0-10 ms ahead by another worker: "
                                            f"start - run_at, {others} retries", by_other)]


def _lateness_row(row_id: str, workload: str, lateness: list[float], goal: float = 50) -> Row:
    return Row(row_id, workload, "ms p99", percentile(lateness, 99), None, goal,
               goal_on="queuectl", goal_op="<=", reference_label="-",
               detail={"samples": len(lateness), "p50_ms": percentile(lateness, 50),
                       "min_ms": min(lateness), "max_ms": max(lateness)})


def p6_pg(quick: bool) -> Row:
    """P6's first half on PostgreSQL: the insert's NOTIFY wakes the idle worker's LISTEN."""
    from . import pg

    samples = 50 if quick else 200
    row = Row("P6-pg", f"idle worker x 50 on PostgreSQL: enqueue -> command start, {samples} "
              "samples", "ms p50", None, None, 10, goal_on="queuectl", goal_op="<=",
              reference_label="-")
    row.skipped = pg.skip_reason()
    if row.skipped:
        return row
    say(f"P6-pg: idle worker on PostgreSQL, {samples} enqueue -> start samples ...")
    with scratch("p6pg") as tmp, scratch_store(tmp, "p6", postgres=True) as url:
        starts, engine_starts, *_ = asyncio.run(_measure(url, tmp, samples, 0))
    row.queuectl = percentile(starts, 50)
    row.detail = {"samples": samples, "p95_ms": percentile(starts, 95),
                  "p99_ms": percentile(starts, 99), "max_ms": max(starts),
                  "engine_spawn_p50_ms": percentile(engine_starts, 50)}
    return row


BENCHMARKS = {"P6": p6, "P6-pg": p6_pg}
