"""P3: the engine alone -- claims, slots, group-committed finishes -- with an instant runner.

Runs in a child process (`python -m benchmarks.engine_bench DB [STOP_AFTER]`: drain the store,
or stop after that many jobs) so that it starts from a clean interpreter and can be profiled:

    .venv/bin/python -m benchmarks.engine_bench --prefill /tmp/p3.db 50000
    .venv/bin/py-spy record -o p3.svg -- .venv/bin/python -m benchmarks.engine_bench /tmp/p3.db

`--stats` counts the store calls (calls per job, time awaited, rows per call) on stderr;
`--real` uses the real runner (each job's command is spawned, as in P1) instead of the instant one.

DB may also be a postgresql:// store URL (P3-pg); `--prefill URL N` fills that schema.

It prints one JSON line: {"jobs": n, "seconds": s, "jobs_per_s": r}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from .common import (
    PYTHON,
    ROOT,
    BenchError,
    Row,
    Store,
    count_states,
    prefill,
    say,
    scratch,
    scratch_store,
    timed_cp,
)


def make_instant(on_finish=None):
    from queuectl.jobs import RunResult
    from queuectl.timeutil import now_ms

    async def instant(command, *, timeout=None, output_limit=0, kill_grace=0.0, on_spawn=None,
                      env_update=None, **job_context):
        now = now_ms()
        if on_finish is not None:
            on_finish()
        return RunResult(0, None, now, now, 0.0)

    return instant


def instrument(store, stats: dict) -> None:
    """Wrap the store's coroutine methods to count calls, rows and time awaited (for --stats)."""
    import inspect

    for name, method in inspect.getmembers(store, inspect.iscoroutinefunction):
        if name.startswith("_"):
            continue

        def wrap(name=name, method=method):
            async def timed(*args, **kw):
                t0 = time.perf_counter()
                try:
                    return await method(*args, **kw)
                finally:
                    entry = stats.setdefault(name, [0, 0.0, 0])
                    entry[0] += 1
                    entry[1] += time.perf_counter() - t0
                    entry[2] += len(args[0]) if args and isinstance(args[0], list) else 0
            return timed

        setattr(store, name, wrap())


async def run_engine(db: Store, stop_after: int | None = None, stats: dict | None = None,
                     real: bool = False, stream: bool = True) -> tuple[int, float]:
    """Engine(drain=True) over the store, or until `stop_after` jobs ran; (jobs run, seconds).
    `stream` False: output-interval 0 (nothing written while a job runs)."""
    from queuectl.engine import Engine
    from queuectl.settings import Settings
    from queuectl.store import open_store

    store = await open_store(str(db))
    if stats is not None:
        instrument(store, stats)
    ran = 0
    engine = None

    def finished() -> None:
        nonlocal ran
        ran += 1
        if stop_after is not None and ran == stop_after:
            engine.stop()

    try:
        runner = make_instant(finished)
        if real:  # the real runner (P1-like); the caller set the worker's child watcher up
            from queuectl.runner import run_command

            runner = run_command
        settings = Settings() if stream else Settings(output_interval=0)
        engine = Engine(store, settings=settings, concurrency=50, drain=stop_after is None,
                        runner=runner, log=lambda s: None)
        t0 = time.perf_counter()
        code = await engine.run()
        seconds = time.perf_counter() - t0
    finally:
        await store.close()
    if code != 0:
        raise BenchError(f"engine exited {code}")
    return ran, seconds


def engine_rate(db: Store, stop_after: int | None = None,
                flags: tuple[str, ...] = ()) -> tuple[int, float]:
    """Run the engine in a child process; (jobs completed, seconds in engine.run). `flags`:
    --real, --previous-claim, --no-stream (see main)."""
    argv = [PYTHON, "-m", "benchmarks.engine_bench", str(db), *flags]
    if stop_after is not None:
        argv.append(str(stop_after))
    _, cp = timed_cp(argv, cwd=ROOT, capture_output=True, timeout=600)
    result = json.loads(cp.stdout.decode().strip().splitlines()[-1])
    return result["jobs"], result["seconds"]


def _p3_rate(n: int, *, postgres: bool = False, stream: bool = True) -> float:
    """Seconds the engine takes to run n prefilled jobs with the instant runner."""
    with scratch("p3") as tmp, scratch_store(tmp, "p3", postgres=postgres) as db:
        prefill(db, n)
        ran, seconds = engine_rate(db, flags=() if stream else ("--no-stream",))
        counts = count_states(db)
    if counts.get("completed") != n or ran != n:
        raise BenchError(f"P3: ran {ran}, store has {counts}, expected {n} completed")
    return seconds


def p3(quick: bool) -> Row:
    """Best of 2 in the full suite, like the spawn rows: the machine is shared, and a single
    50,000-job run swung between 6,200 and 12,100 jobs/s the same day."""
    n, rounds = (10_000, 1) if quick else (50_000, 2)
    say(f"P3: {n} jobs through the engine, instant runner, best of {rounds} ...")
    seconds = min(_p3_rate(n) for _ in range(rounds))
    return Row("P3", f"{n} jobs, Engine x 50, instant in-process runner", "jobs/s", n / seconds,
               None, 10_000, goal_on="queuectl", reference_label="-",
               detail={"n": n, "rounds": rounds, "engine_run_s": seconds})


def p3_pg(quick: bool) -> Row:
    """P3 on a PostgreSQL store; the same on SQLite in the same run is the reference (the goal
    is on the absolute figure). The full suite alternates them twice and keeps the best."""
    from . import pg

    n, rounds = (5_000, 1) if quick else (30_000, 2)
    row = Row("P3-pg", f"{n} jobs, Engine x 50, instant runner, PostgreSQL store", "jobs/s",
              None, None, 5_000, goal_on="queuectl", reference_label="same on SQLite")
    row.skipped = pg.skip_reason()
    if row.skipped:
        return row
    say(f"P3-pg: {n} jobs through the engine on PostgreSQL vs SQLite, instant runner, "
        f"best of {rounds} ...")
    pg_s = sqlite_s = float("inf")
    for _ in range(rounds):
        pg_s = min(pg_s, _p3_rate(n, postgres=True))
        sqlite_s = min(sqlite_s, _p3_rate(n))
    row.queuectl, row.reference = n / pg_s, n / sqlite_s
    row.detail = {"n": n, "rounds": rounds, "engine_run_s": pg_s, "sqlite_engine_run_s": sqlite_s}
    return row


BENCHMARKS = {"P3": p3, "P3-pg": p3_pg}


# The claim statement of Part 1, before flow control (P3-flow and P1-flow compare against it):
# the same UPDATE, with the two flow columns in its WHERE only because the partial index it
# names now has them in its predicate (SQLite requires the query to imply it).
PREVIOUS_CLAIM = """
UPDATE jobs SET state = 'processing', worker_id = :worker, attempts = attempts + 1,
       run_no = run_no + 1, started_at = :now, updated_at = :now, pid = NULL
WHERE seq IN (SELECT seq FROM jobs INDEXED BY jobs_due
              WHERE state IN ('pending', 'failed') AND gated = 0 AND waiting = 0
                AND run_at <= :now
              ORDER BY priority DESC, run_at, seq LIMIT :limit)
RETURNING {columns}, seq
"""


def use_previous_claim() -> None:
    """Make SqliteStore claim with PREVIOUS_CLAIM (same store, same engine, same indexes)."""
    from queuectl.store import sqlite_flow
    from queuectl.store.rows import JOB_COLUMNS

    previous = PREVIOUS_CLAIM.format(columns=JOB_COLUMNS)

    def claim_params(worker_id, limit, now, queues):
        return previous, {"worker": worker_id, "now": now, "limit": limit}

    sqlite_flow.claim_params = claim_params


def main() -> None:
    if sys.argv[1] == "--prefill":
        prefill(_store_arg(sys.argv[2]), int(sys.argv[3]))
        return
    args = [a for a in sys.argv[1:]
            if a not in ("--stats", "--real", "--previous-claim", "--no-stream")]
    if "--previous-claim" in sys.argv:
        use_previous_claim()
    stats = {} if "--stats" in sys.argv else None
    db = _store_arg(args[0])
    stop_after = int(args[1]) if len(args) > 1 else None
    real = "--real" in sys.argv
    if real:
        from queuectl.engine import prefer_pidfd_child_watcher

        prefer_pidfd_child_watcher()
    ran, seconds = asyncio.run(run_engine(db, stop_after, stats, real,
                                          stream="--no-stream" not in sys.argv))
    if real:
        ran = count_states(db).get("completed", 0)
    if stats:
        for name, (calls, spent, rows) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
            sys.stderr.write(f"{name:<20} {calls:>7} calls  {spent * 1000:>9.1f} ms awaited  "
                             f"{spent / calls * 1e6:>7.0f} us/call  {calls / max(ran, 1):.3f} "
                             f"calls/job  {rows / calls if rows else 0:.1f} rows/call\n")
    print(json.dumps({"jobs": ran, "seconds": seconds, "jobs_per_s": ran / seconds}))


def _store_arg(value: str) -> Store:
    """A URL stays a string (Path() would fold its '//'); anything else is a SQLite file."""
    return value if "://" in value else Path(value)


if __name__ == "__main__":
    main()
