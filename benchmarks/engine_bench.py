"""P3: the engine alone -- claims, slots, group-committed finishes -- with an instant runner.

Runs in a child process (`python -m benchmarks.engine_bench DB [STOP_AFTER]`: drain the store,
or stop after that many jobs) so that it starts from a clean interpreter and can be profiled:

    .venv/bin/python -m benchmarks.engine_bench --prefill /tmp/p3.db 50000
    .venv/bin/py-spy record -o p3.svg -- .venv/bin/python -m benchmarks.engine_bench /tmp/p3.db

It prints one JSON line: {"jobs": n, "seconds": s, "jobs_per_s": r}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from .common import PYTHON, ROOT, BenchError, Row, count_states, prefill, say, scratch, timed_cp


def make_instant(on_finish=None):
    from queuectl.jobs import RunResult
    from queuectl.timeutil import now_ms

    async def instant(command, *, timeout=None, output_limit=0, kill_grace=0.0, on_spawn=None):
        now = now_ms()
        if on_finish is not None:
            on_finish()
        return RunResult(0, None, now, now, 0.0)

    return instant


async def run_engine(db: Path, stop_after: int | None = None) -> tuple[int, float]:
    """Engine(drain=True) over the store, or until `stop_after` jobs ran; (jobs run, seconds)."""
    from queuectl.engine import Engine
    from queuectl.settings import Settings
    from queuectl.store import open_store

    store = await open_store(str(db))
    ran = 0
    engine = None

    def finished() -> None:
        nonlocal ran
        ran += 1
        if stop_after is not None and ran == stop_after:
            engine.stop()

    try:
        engine = Engine(store, settings=Settings(), concurrency=50, drain=stop_after is None,
                        runner=make_instant(finished), log=lambda s: None)
        t0 = time.perf_counter()
        code = await engine.run()
        seconds = time.perf_counter() - t0
    finally:
        await store.close()
    if code != 0:
        raise BenchError(f"engine exited {code}")
    return ran, seconds


def engine_rate(db: Path, stop_after: int | None = None) -> tuple[int, float]:
    """Run the engine in a child process; (jobs completed, seconds in engine.run)."""
    argv = [PYTHON, "-m", "benchmarks.engine_bench", str(db)]
    if stop_after is not None:
        argv.append(str(stop_after))
    _, cp = timed_cp(argv, cwd=ROOT, capture_output=True, timeout=600)
    result = json.loads(cp.stdout.decode().strip().splitlines()[-1])
    return result["jobs"], result["seconds"]


def p3(quick: bool) -> Row:
    n = 10_000 if quick else 50_000
    with scratch("p3") as tmp:
        db = tmp / "q.db"
        prefill(db, n)
        say(f"P3: {n} jobs through the engine, instant runner ...")
        ran, seconds = engine_rate(db)
        counts = count_states(db)
    if counts.get("completed") != n or ran != n:
        raise BenchError(f"P3: ran {ran}, store has {counts}, expected {n} completed")
    return Row("P3", f"{n} jobs, Engine x 50, instant in-process runner", "jobs/s", n / seconds,
               None, 10_000, goal_on="queuectl", reference_label="-",
               detail={"n": n, "engine_run_s": seconds})


BENCHMARKS = {"P3": p3}


def main() -> None:
    if sys.argv[1] == "--prefill":
        prefill(Path(sys.argv[2]), int(sys.argv[3]))
        return
    db = Path(sys.argv[1])
    stop_after = int(sys.argv[2]) if len(sys.argv) > 2 else None
    ran, seconds = asyncio.run(run_engine(db, stop_after))
    print(json.dumps({"jobs": ran, "seconds": seconds, "jobs_per_s": ran / seconds}))


if __name__ == "__main__":
    main()
