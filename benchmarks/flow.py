"""Flow control (issue 10): what the limit/pause/dependency-aware claim costs, and whether it
stays cheap with many queues and a big store.

- P3-flow / P1-flow: P3 (instant runner) and a P1-like run (real `true` processes), every job
  in `default`, no limits, against the previous claim statement (Part 1's, on the same store
  and indexes: engine_bench --previous-claim), alternated in one run, best of each;
- P9: 50,000 jobs over 10 queues, q1 limited to 2, q2 paused, one engine x 50 (instant
  runner), run until the 40,000 jobs of the 8 open queues completed; its rate against P3's
  (same run). A sampler reads q1's `processing` count every few ms meanwhile (P9-limit);
- P9-scale: the claim+finish rate on a store of 1,000,000 jobs over 1,000 queues (one
  limited, one paused) against the same at 10,000 jobs.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .common import BenchError, Row, count_states, prefill, say, scratch
from .engine_bench import engine_rate


def _set_queues(db: Path, limited: dict[str, int], paused: list[str]) -> None:
    import asyncio

    from queuectl.store import open_store

    async def main() -> None:
        store = await open_store(str(db))
        try:
            for name, limit in limited.items():
                await store.set_queues([name], limit=limit)
            if paused:
                await store.set_queues(paused, paused=True)
        finally:
            await store.close()

    asyncio.run(main())


def _alternate(runs: dict[str, callable], rounds: int) -> dict[str, float]:
    """Best (lowest) seconds of each run, the runs alternated so machine load hits them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    return best


def _engine_seconds(n: int, flags: tuple[str, ...], command: str = "true") -> float:
    with scratch("flow") as tmp:
        db = tmp / "q.db"
        prefill(db, n, command=command)
        ran, seconds = engine_rate(db, flags=flags)
        done = count_states(db).get("completed")
    if ran != n and "--real" not in flags or done != n:
        raise BenchError(f"ran {ran}, {done} completed, expected {n}")
    return seconds


def p3_flow(quick: bool) -> Row:
    n, rounds = (10_000, 1) if quick else (50_000, 3)
    say(f"P3-flow: {n} jobs, new claim vs previous claim statement, best of {rounds} ...")
    best = _alternate({"new": lambda: _engine_seconds(n, ()),
                       "previous": lambda: _engine_seconds(n, ("--previous-claim",))}, rounds)
    return Row("P3-flow", f"{n} jobs in default, no limits, Engine x 50, instant runner",
               "jobs/s", n / best["new"], n / best["previous"], 0.97,
               reference_label="previous claim statement",
               detail={"n": n, "rounds": rounds, "seconds": best})


def p1_flow(quick: bool) -> Row:
    n, rounds = (1_000, 1) if quick else (3_000, 3)
    say(f"P1-flow: {n} real `true` jobs, new claim vs previous claim statement ...")
    real = ("--real",)
    best = _alternate({"new": lambda: _engine_seconds(n, real),
                       "previous": lambda: _engine_seconds(n, (*real, "--previous-claim"))},
                      rounds)
    return Row("P1-flow", f"{n} x `true` in default, no limits, Engine x 50, real runner",
               "jobs/s", n / best["new"], n / best["previous"], 0.97,
               reference_label="previous claim statement",
               detail={"n": n, "rounds": rounds, "seconds": best})


def _sample(db: Path, queue: str, stop: threading.Event, out: list[int]) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        while not stop.is_set():
            out.append(conn.execute("SELECT count(*) FROM jobs WHERE queue = ? AND state = "
                                    "'processing'", (queue,)).fetchone()[0])
            time.sleep(0.002)
    finally:
        conn.close()


def _p9_run(n: int) -> tuple[float, int, int, dict]:
    """(seconds for the open queues' jobs, samples, peak running in q1, final counts)."""
    open_jobs = n * 8 // 10
    with scratch("p9") as tmp:
        db = tmp / "q.db"
        prefill(db, n, queues=10)
        _set_queues(db, {"q1": 2}, ["q2"])
        samples: list[int] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(db, "q1", stop, samples))
        sampler.start()
        try:
            _, seconds = engine_rate(db, stop_after=open_jobs)
        finally:
            stop.set()
            sampler.join()
        conn = sqlite3.connect(db)
        per_queue = dict(conn.execute("SELECT queue, count(*) FROM jobs WHERE state = 'completed' "
                                      "GROUP BY queue"))
        conn.close()
    if per_queue.get("q2"):
        raise BenchError(f"P9: {per_queue['q2']} jobs of the paused queue ran")
    return seconds, len(samples), max(samples, default=0), per_queue


def p9(quick: bool) -> list[Row]:
    n, rounds = (10_000, 1) if quick else (50_000, 2)
    open_jobs = n * 8 // 10
    say(f"P9: {n} jobs over 10 queues (q1 limited to 2, q2 paused) vs P3, best of {rounds} ...")
    best, peak, samples, per_queue = float("inf"), 0, 0, {}
    p3_seconds = float("inf")
    for _ in range(rounds):
        seconds, taken, top, done = _p9_run(n)
        if seconds < best:
            best, per_queue = seconds, done
        peak, samples = max(peak, top), samples + taken
        p3_seconds = min(p3_seconds, _engine_seconds(open_jobs, ()))
    return [
        Row("P9", f"{n} jobs over 10 queues (one limited to 2, one paused), Engine x 50: "
                  f"the {open_jobs} jobs of the open queues", "jobs/s", open_jobs / best,
            open_jobs / p3_seconds, 0.9, reference_label=f"P3, {open_jobs} jobs, same run",
            detail={"completed_per_queue": per_queue, "rounds": rounds}),
        Row("P9-limit", "P9: most `processing` in the queue limited to 2 (sampled)", "jobs",
            peak, None, 2, goal_on="queuectl", goal_op="<=", reference_label="-",
            detail={"samples": samples}),
    ]


def p9_scale(quick: bool) -> Row:
    big_n, small_n = (100_000, 10_000) if quick else (1_000_000, 10_000)
    claim = 2_000 if quick else 5_000
    say(f"P9-scale: claim+finish rate at {big_n:,} vs {small_n:,} jobs over 1,000 queues ...")
    with scratch("p9s-small") as small_tmp, scratch("p9s-big") as big_tmp:
        stores = []
        for total, tmp in ((small_n, small_tmp), (big_n, big_tmp)):
            db = tmp / "q.db"
            pending = max(claim * 4, total // 10)
            prefill(db, pending, completed=max(total - pending, 0), queues=1_000)
            _set_queues(db, {"q1": 2}, ["q2"])
            stores.append(db)
        spent = [[0, 0.0], [0, 0.0]]
        for _ in range(3):  # alternating rounds, a third of the jobs each
            for acc, db in zip(spent, stores, strict=True):
                ran, seconds = engine_rate(db, stop_after=claim // 3)
                acc[0] += ran
                acc[1] += seconds
    small, big = (ran / seconds for ran, seconds in spent)
    return Row("P9-scale", f"store of {big_n:,} jobs over 1,000 queues (one limited, one "
                           f"paused): engine claim+finish rate, {claim} jobs", "jobs/s",
               big, small, 0.8, reference_label=f"same at {small_n:,} jobs")


BENCHMARKS = {"P3-flow": p3_flow, "P1-flow": p1_flow, "P9": p9, "P9-scale": p9_scale}
