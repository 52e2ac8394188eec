"""P8: `queuectl wait --batch B` on 10,000 jobs. How soon after the last job ends does it
return (p50 of 5; goal <= 0.5 s), and what does it cost while nothing happens (its CPU time
over an idle window, in % of one core; goal <= 1 %)? P8-pg: the same on PostgreSQL.

Each run: 10,000 jobs of one batch, 9,999 finished and one held by a (fake) worker -- this
process, through the store API -- then `queuectl wait` starts, idles, and the last job is
finished at a recorded moment; the wait process's exit is the moment it noticed.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from .common import QUEUECTL, BenchError, Row, Store, cli_env, median, say, scratch, scratch_store

JOBS = 10_000
CLK_TCK = 100  # /proc stat ticks per second on Linux


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


async def _prepared(db: Store, batch: str):
    """The store with 9,999 finished jobs of `batch` and the last one processing."""
    from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition
    from queuectl.store import open_store
    from queuectl.timeutil import now_ms

    store = await open_store(str(db))
    now = now_ms()
    await store.insert_jobs([NewJob(f"{batch}-{n:05d}", "true", max_retries=0, batch=batch)
                             for n in range(JOBS)], now=now)
    claimed = await store.claim_jobs(worker_id="bench", limit=JOBS, now=now)
    result = RunResult(0, None, now, now + 1, 0.001)
    done = [Finish(j.id, "bench", j.run_no, Transition(JobState.COMPLETED, None), result)
            for j in claimed[:-1]]
    await store.finish_jobs(done, now=now + 1)
    return store, claimed[-1]


async def _settled(pid: int, *, most_s: float = 15.0) -> None:
    """Until the process has finished starting (imports, the first look at the batch): half a
    second with at most one clock tick of CPU. On a loaded machine a fixed pause was not
    enough, and start-up counted as idle time."""
    deadline = time.monotonic() + most_s
    await asyncio.sleep(0.5)
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before <= 1 / CLK_TCK:
            return


async def _one_run(db: Store, tmp: Path, idle_s: float, batch: str) -> tuple[float, float]:
    from queuectl.jobs import Finish, JobState, RunResult, Transition
    from queuectl.timeutil import now_ms

    store, last = await _prepared(db, batch)  # a store may hold earlier runs' batches
    try:
        waiter = subprocess.Popen([QUEUECTL, "wait", "--batch", batch], env=cli_env(db, tmp),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        await _settled(waiter.pid)
        if waiter.poll() is not None:
            raise BenchError(f"P8: wait exited early: {waiter.stderr.read().decode()[-500:]}")
        cpu0, t0 = cpu_seconds(waiter.pid), time.monotonic()
        await asyncio.sleep(idle_s)
        idle = (cpu_seconds(waiter.pid) - cpu0) / (time.monotonic() - t0) * 100
        now = now_ms()
        result = RunResult(0, None, now, now, 0.001)
        await store.finish_jobs([Finish(last.id, "bench", last.run_no,
                                        Transition(JobState.COMPLETED, None), result)], now=now)
        ended = time.monotonic()
        code = await asyncio.to_thread(waiter.wait, 30)
        noticed = time.monotonic() - ended
        if code != 0:
            raise BenchError(f"P8: wait exit {code}: {waiter.stderr.read().decode()[-500:]}")
        return noticed, idle
    finally:
        await store.close()


def _p8(quick: bool, *, postgres: bool) -> list[Row]:
    runs, idle_s = (3, 2.0) if quick else (5, 5.0)
    name = "P8-pg" if postgres else "P8"
    noticed, idle = [], []
    with scratch(name.lower()) as tmp:
        say(f"{name}: wait --batch on {JOBS} jobs, {runs} runs ...")
        for n in range(runs):
            with scratch_store(tmp, f"p8_{n}", postgres=postgres) as db:
                latency, cpu = asyncio.run(_one_run(db, tmp, idle_s, f"p8-{n}"))
                noticed.append(latency)
                idle.append(cpu)
    detail = {"runs": runs, "noticed_s": [round(x, 3) for x in noticed],
              "idle_window_s": idle_s, "idle_cpu_pct": [round(x, 2) for x in idle]}
    return [
        Row(name, f"wait --batch on {JOBS} jobs: last completion noticed", "s (p50)",
            median(noticed), None, 0.5, goal_on="queuectl", goal_op="<=", reference_label="-",
            detail=detail),
        Row(f"{name}-idle", f"wait --batch on {JOBS} jobs, nothing happening", "% of a core",
            max(idle), None, 1.0, goal_on="queuectl", goal_op="<=", reference_label="-",
            detail=detail),
    ]


def p8(quick: bool) -> list[Row]:
    return _p8(quick, postgres=False)


def p8_pg(quick: bool) -> list[Row]:
    from . import pg

    why = pg.skip_reason()
    if why is not None:
        return [Row("P8-pg", "wait --batch on PostgreSQL", "s (p50)", None, None, 0.5,
                    goal_on="queuectl", goal_op="<=", skipped=why)]
    return _p8(quick, postgres=True)


BENCHMARKS = {"P8": p8, "P8-pg": p8_pg}
