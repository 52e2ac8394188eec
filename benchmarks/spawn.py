"""P1, P1-peer, P1b, P2: real `queuectl worker start --drain` processes running shell commands."""

from __future__ import annotations

import importlib.util
import subprocess

from .common import (
    PYTHON,
    ROOT,
    BenchError,
    Row,
    prefill,
    require_all_completed,
    run_workers,
    say,
    scratch,
    timed_cp,
    timed_run,
)


def _worker_detail(run, n: int) -> dict:
    detail = {"n": n, "elapsed_s": run.elapsed, "cpu_ms_per_job": run.cpu * 1000 / n}
    if run.startup is not None:
        detail["startup_s"] = run.startup
    if run.in_loop:
        detail["in_loop_jobs_per_s"] = n / run.in_loop
    return detail


def p1(quick: bool) -> Row:
    """5,000 x `true`, one worker x 50, vs the same run_command in a semaphore loop of 50."""
    n, c = (1000 if quick else 5000), 50
    with scratch("p1") as tmp:
        db = tmp / "q.db"
        prefill(db, n)
        say(f"P1: {n} x true, 1 worker x {c} ...")
        run = run_workers(db, tmp, processes=1, concurrency=c)
        require_all_completed(db, n, "P1")
    ref_s, ref = timed_cp([PYTHON, "-m", "benchmarks.spawn_ref", str(n), str(c), "true"],
                          cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watcher = ref.stderr.decode().strip().removeprefix("child watcher: ")
    detail = _worker_detail(run, n) | {"reference_elapsed_s": ref_s, "child_watcher": watcher,
                                       "reference_cpu_ms_per_job": ref.cpu * 1000 / n}
    return Row("P1", f"{n} x true, 1 worker x {c}, prefilled", "jobs/s", n / run.elapsed,
               n / ref_s, 0.90, reference_label="run_command x50 loop", detail=detail)


def p1_peer(quick: bool) -> Row:
    """2,000 x `true` through huey (SqliteHuey, 50 threads) vs queuectl 1 worker x 50."""
    n, c = (500 if quick else 2000), 50
    workload = f"{n} x true, 1 worker x {c} vs huey SQLite x {c} threads"
    if importlib.util.find_spec("huey") is None:
        return Row("P1-peer", workload, "jobs/s", None, None, 1.5, reference_label="huey",
                   skipped="huey is not installed (pip install -e '.[bench]')")
    with scratch("peer") as tmp:
        db = tmp / "q.db"
        prefill(db, n)
        say(f"P1-peer: {n} x true, queuectl vs huey ...")
        run = run_workers(db, tmp, processes=1, concurrency=c)
        require_all_completed(db, n, "P1-peer")
        hdb = str(tmp / "huey.db")
        peer = [PYTHON, "-m", "benchmarks.huey_peer"]
        timed_run(peer + ["enqueue", hdb, str(n), "true"], cwd=ROOT, capture_output=True)
        huey_s, huey = timed_cp(peer + ["consume", hdb, str(n), str(c)], cwd=ROOT,
                                capture_output=True, timeout=300)
    return Row("P1-peer", workload, "jobs/s", n / run.elapsed, n / huey_s, 1.5,
               reference_label="huey 50 threads",
               detail=_worker_detail(run, n) | {"huey_elapsed_s": huey_s,
                                                "huey_cpu_ms_per_job": huey.cpu * 1000 / n})


def p1b(quick: bool) -> Row:
    """5,000 x `true`, 2 workers x 25, vs `seq N | xargs -P50 -I{} sh -c true`."""
    n = 1000 if quick else 5000
    with scratch("p1b") as tmp:
        db = tmp / "q.db"
        prefill(db, n)
        say(f"P1b: {n} x true, 2 workers x 25 vs xargs -P50 ...")
        run = run_workers(db, tmp, processes=2, concurrency=25)
        require_all_completed(db, n, "P1b")
    xargs_s, xargs = timed_cp(["sh", "-c", f"seq {n} | xargs -P50 -I{{}} sh -c true"],
                              capture_output=True)
    return Row("P1b", f"{n} x true, 2 workers x 25", "jobs/s", n / run.elapsed, n / xargs_s, 0.75,
               reference_label="xargs -P50", detail=_worker_detail(run, n) | {
                   "xargs_elapsed_s": xargs_s, "xargs_cpu_ms_per_job": xargs.cpu * 1000 / n})


def p2(quick: bool) -> Row:
    """2,000 x `sleep 0.1`, 1 worker x 50, vs the ideal N x 0.1 / 50 seconds."""
    n, c = (500 if quick else 2000), 50
    ideal = n * 0.1 / c
    with scratch("p2") as tmp:
        db = tmp / "q.db"
        prefill(db, n, command="sleep 0.1")
        say(f"P2: {n} x sleep 0.1, 1 worker x {c} (ideal {ideal:.1f}s) ...")
        run = run_workers(db, tmp, processes=1, concurrency=c)
        require_all_completed(db, n, "P2")
    return Row("P2", f"{n} x sleep 0.1, 1 worker x {c}", "jobs/s", n / run.elapsed, n / ideal,
               0.97, reference_label=f"ideal {ideal:.1f}s", detail=_worker_detail(run, n))


BENCHMARKS = {"P1": p1, "P1-peer": p1_peer, "P1b": p1b, "P2": p2}

__all__ = ["BENCHMARKS", "BenchError"]
