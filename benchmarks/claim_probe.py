"""Where a claim's time goes, statement by statement (issue 10's P7-claim question):

    .venv/bin/python -m benchmarks.claim_probe

1. a serial claim(50) -> finish(50) loop through SqliteStore on stores of 10^4 and 10^6 jobs
   (P7's shape), alternated: median ms per batch of each statement;
2. the flow-control claim statement against the previous one (engine_bench.PREVIOUS_CLAIM)
   on one 60,000-job store, alternated: median us per batch of 50;
3. on 10^6 jobs over 1,000 queues (one limited, one paused), a raw claim -> complete loop with
   jobs_queue_due as it is (every due job) and restricted to gated jobs (suggestion 0 of
   benchmarks/README.md): median ms per claim of 50.
"""

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path

from .common import prefill, scratch


async def _claim_finish_ms(db: Path, rounds: int = 60) -> tuple[float, float]:
    from queuectl.jobs import Finish, JobState, RunResult, Transition, WorkerInfo
    from queuectl.store.sqlite import SqliteStore

    store = await SqliteStore.open(db)
    await store.register_worker(WorkerInfo("probe", 1, "h", 50, 0, 0, 0))
    claims, finishes = [], []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            jobs = await store.claim_jobs(worker_id="probe", limit=50, now=int(time.time() * 1000))
            t1 = time.perf_counter()
            now = int(time.time() * 1000)
            await store.finish_jobs([Finish(j.id, "probe", j.run_no,
                                            Transition(JobState.COMPLETED, None),
                                            RunResult(0, None, now, now, 0.0)) for j in jobs],
                                    now=now)
            claims.append(t1 - t0)
            finishes.append(time.perf_counter() - t1)
    finally:
        await store.close()
    return statistics.median(claims[5:]) * 1000, statistics.median(finishes[5:]) * 1000


def _statements_us(db: Path, rounds: int = 300) -> dict[str, float]:
    from queuectl.store.rows import JOB_COLUMNS
    from queuectl.store.sqlite_flow import CLAIM_ALL

    from .engine_bench import PREVIOUS_CLAIM

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")  # as the store runs it
    spent: dict[str, list[float]] = {"flow claim": [], "previous claim": []}
    queries = {"flow claim": CLAIM_ALL, "previous claim": PREVIOUS_CLAIM.format(columns=JOB_COLUMNS)}
    for _ in range(rounds):
        for name, query in queries.items():
            t0 = time.perf_counter()
            conn.execute(query, {"worker": "w", "now": int(time.time() * 1000), "limit": 50}).fetchall()
            spent[name].append(time.perf_counter() - t0)
    conn.close()
    return {name: round(statistics.median(v) * 1e6) for name, v in spent.items()}


def _raw_loop_ms(db: Path, claim: str, rounds: int = 80) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    spent = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        rows = conn.execute(claim, {"worker": "w", "now": int(time.time() * 1000),
                                    "limit": 50}).fetchall()
        spent.append(time.perf_counter() - t0)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE jobs SET state = 'completed', worker_id = NULL WHERE id = ?",
                         [(r[0],) for r in rows])
        conn.execute("COMMIT")
    conn.close()
    return round(statistics.median(spent[5:]) * 1000, 2)


def _queue_index_ms() -> dict[str, float]:
    from queuectl.store.sqlite_flow import CLAIM_ALL

    from .flow import _set_queues

    with scratch("probe-queues") as tmp:
        db = tmp / "q.db"
        prefill(db, 100_000, completed=900_000, queues=1_000)
        _set_queues(db, {"q1": 2}, ["q2"])
        found = {"every due job": _raw_loop_ms(db, CLAIM_ALL)}
        conn = sqlite3.connect(db)
        conn.execute("DROP INDEX jobs_queue_due")
        conn.execute("CREATE INDEX jobs_queue_due ON jobs (queue, waiting, priority DESC, "
                     "run_at, seq) WHERE state IN ('pending', 'failed') AND gated = 1")
        conn.commit()
        conn.close()
        gated = CLAIM_ALL.replace("AND x.run_at <= :now", "AND x.gated = 1 AND x.run_at <= :now")
        found["gated jobs only"] = _raw_loop_ms(db, gated)
    return found


def main() -> None:
    with scratch("probe-small") as small, scratch("probe-big") as big:
        stores = {}
        for total, tmp in ((10_000, small), (1_000_000, big)):
            pending = max(20_000, total // 10)
            prefill(tmp / "q.db", pending, completed=max(total - pending, 0))
            stores[total] = tmp / "q.db"
        for _ in range(2):
            for total, db in stores.items():
                claim, finish = asyncio.run(_claim_finish_ms(db))
                print(f"{total:>9,} jobs: claim {claim:.2f} ms, finish {finish:.2f} ms per 50")
    with scratch("probe-stmt") as tmp:
        prefill(tmp / "q.db", 60_000)
        print("per claim of 50 (median us):", _statements_us(tmp / "q.db"))
    print("10^6 jobs, 1,000 queues, jobs_queue_due over (ms per claim of 50):", _queue_index_ms())


if __name__ == "__main__":
    main()
