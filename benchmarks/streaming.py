"""Live output (issue 9): what streaming costs the hot path, and how far behind `logs --follow`
is.

P1-stream: P1's workload (N x `true`, one real worker x 50) with streaming on (the default
`output-interval` 0.25 s) against the same with `output-interval 0` (nothing written while a
job runs), alternating, best of each. Goal: ratio >= 0.95 (streaming may cost at most 5 %).
P3-stream: P3's engine (instant runner) with and without streaming, the same way.
P8-follow (and P8-follow-pg): a job prints `date +%s%N` every 0.2 s; a `queuectl logs ID
--follow` process started before it reads the lines; latency = the moment the follower's line
arrives here minus the time the job printed in it. Goal: p50 <= 1 s.
"""

from __future__ import annotations

import subprocess
import time

from .common import (
    QUEUECTL,
    BenchError,
    Row,
    WorkerRun,
    cli_env,
    percentile,
    prefill,
    require_all_completed,
    run_workers,
    say,
    scratch,
    scratch_store,
)

LINES, EVERY_S = 30, 0.2


def _p1_once(n: int, interval: float) -> WorkerRun:
    with scratch("p1s") as tmp, scratch_store(tmp, "p1s") as db:
        prefill(db, n)
        subprocess.run([QUEUECTL, "config", "set", "output-interval", str(interval)],
                       env=cli_env(db, tmp), check=True, capture_output=True)
        run = run_workers(db, tmp, processes=1, concurrency=50)
        require_all_completed(db, n, "P1-stream")
        return run


def p1_stream(quick: bool) -> Row:
    n, rounds = (1000, 1) if quick else (5000, 3)
    say(f"P1-stream: {n} x true, 1 worker x 50, streaming on vs off, best of {rounds} ...")
    on = off = float("inf")
    for _ in range(rounds):
        on = min(on, _p1_once(n, 0.25).elapsed)
        off = min(off, _p1_once(n, 0).elapsed)
    return Row("P1-stream", f"{n} x true, 1 worker x 50: output-interval 0.25 vs 0", "jobs/s",
               n / on, n / off, 0.95, reference_label="streaming off",
               detail={"n": n, "rounds": rounds, "on_s": on, "off_s": off})


def p3_stream(quick: bool) -> Row:
    from .engine_bench import _p3_rate

    n, rounds = (10_000, 1) if quick else (50_000, 2)
    say(f"P3-stream: {n} jobs through the engine, streaming on vs off, best of {rounds} ...")
    on = off = float("inf")
    for _ in range(rounds):
        on = min(on, _p3_rate(n))
        off = min(off, _p3_rate(n, stream=False))
    return Row("P3-stream", f"{n} jobs, Engine x 50, instant runner: streaming on vs off",
               "jobs/s", n / on, n / off, 0.95, reference_label="streaming off",
               detail={"n": n, "rounds": rounds, "on_s": on, "off_s": off})


def _follow_latencies(postgres: bool) -> list[float]:
    command = f"for i in $(seq {LINES}); do date +%s%N; sleep {EVERY_S}; done"
    with scratch("p8f") as tmp, scratch_store(tmp, "p8f", postgres=postgres) as db:
        env = cli_env(db, tmp)
        subprocess.run([QUEUECTL, "enqueue", "--id", "talk", command], env=env, check=True,
                       capture_output=True)
        follower = subprocess.Popen([QUEUECTL, "logs", "talk", "--follow"], env=env, cwd=tmp,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([QUEUECTL, "worker", "start", "--drain"], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        latencies = []
        try:
            for line in follower.stdout:
                latencies.append(time.time() - int(line) / 1e9)
            follower.wait(timeout=30)
            worker.wait(timeout=30)
        finally:
            for proc in (follower, worker):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    if len(latencies) != LINES or follower.returncode != 0:
        raise BenchError(f"P8-follow: {len(latencies)} of {LINES} lines, "
                         f"follower exit {follower.returncode}")
    return latencies


def _follow_row(row_id: str, quick: bool, postgres: bool) -> Row:
    workload = (f"logs --follow of a job printing a timestamp every {EVERY_S}s "
                f"({LINES} lines){' on PostgreSQL' if postgres else ''}")
    row = Row(row_id, workload, "p50 s", None, None, 1.0, goal_on="queuectl", goal_op="<=",
              reference_label="-")
    if postgres:
        from . import pg

        row.skipped = pg.skip_reason()
        if row.skipped:
            return row
    say(f"{row_id}: {workload} ...")
    latencies = _follow_latencies(postgres)
    row.queuectl = percentile(latencies, 50)
    row.detail = {"lines": LINES, "p95_s": percentile(latencies, 95), "max_s": max(latencies),
                  "min_s": min(latencies)}
    return row


def p8_follow(quick: bool) -> Row:
    return _follow_row("P8-follow", quick, postgres=False)


def p8_follow_pg(quick: bool) -> Row:
    return _follow_row("P8-follow-pg", quick, postgres=True)


BENCHMARKS = {"P1-stream": p1_stream, "P3-stream": p3_stream, "P8-follow": p8_follow,
              "P8-follow-pg": p8_follow_pg}
