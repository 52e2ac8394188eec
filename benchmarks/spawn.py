"""P1, P1-peer, P1b, P2: real `queuectl worker start --drain` processes running shell commands.

On a shared 2-core machine one run is noisy, so the full suite runs queuectl and its reference
`rounds` times, alternating them, and keeps the best (shortest) of each; --quick runs once.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable

from .common import (
    PYTHON,
    ROOT,
    Row,
    WorkerRun,
    prefill,
    require_all_completed,
    run_workers,
    say,
    scratch,
    timed_cp,
)


def _alternate(rounds: int, ours: Callable[[], WorkerRun],
               reference: Callable[[], tuple[float, float]]) -> tuple[WorkerRun, float, float]:
    """Best of `rounds` of each, alternating: (best worker run, best ref seconds, its CPU s)."""
    best: WorkerRun | None = None
    ref_best: tuple[float, float] | None = None
    for _ in range(rounds):
        run = ours()
        if best is None or run.elapsed < best.elapsed:
            best = run
        ref = reference()
        if ref_best is None or ref[0] < ref_best[0]:
            ref_best = ref
    return best, ref_best[0], ref_best[1]


def _queuectl(name: str, n: int, *, processes: int, concurrency: int,
              command: str = "true") -> Callable[[], WorkerRun]:
    def once() -> WorkerRun:
        with scratch(name) as tmp:
            db = tmp / "q.db"
            prefill(db, n, command=command)
            run = run_workers(db, tmp, processes=processes, concurrency=concurrency)
            require_all_completed(db, n, name)
            return run
    return once


def _detail(run: WorkerRun, n: int, rounds: int) -> dict:
    detail = {"n": n, "rounds": rounds, "elapsed_s": run.elapsed,
              "cpu_ms_per_job": run.cpu * 1000 / n}
    if run.startup is not None:
        detail["startup_s"] = run.startup
    if run.in_loop:
        detail["in_loop_jobs_per_s"] = n / run.in_loop
    return detail


def p1(quick: bool) -> Row:
    """5,000 x `true`, one worker x 50, vs the same run_command in a semaphore loop of 50."""
    n, c, rounds = (1000, 50, 1) if quick else (5000, 50, 2)
    watcher = []

    def reference() -> tuple[float, float]:
        seconds, cp = timed_cp([PYTHON, "-m", "benchmarks.spawn_ref", str(n), str(c), "true"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        watcher.append(cp.stderr.decode().strip().removeprefix("child watcher: "))
        return seconds, cp.cpu

    say(f"P1: {n} x true, 1 worker x {c} vs run_command loop, best of {rounds} ...")
    run, ref_s, ref_cpu = _alternate(rounds, _queuectl("p1", n, processes=1, concurrency=c),
                                     reference)
    detail = _detail(run, n, rounds) | {"reference_elapsed_s": ref_s,
                                        "reference_cpu_ms_per_job": ref_cpu * 1000 / n,
                                        "child_watcher": watcher[-1]}
    return Row("P1", f"{n} x true, 1 worker x {c}, prefilled", "jobs/s", n / run.elapsed,
               n / ref_s, 0.90, reference_label="run_command x50 loop", detail=detail)


def p1_peer(quick: bool) -> Row:
    """2,000 x `true` through huey (SqliteHuey, 50 threads) vs queuectl 1 worker x 50."""
    n, c, rounds = (500, 50, 1) if quick else (2000, 50, 2)
    workload = f"{n} x true, 1 worker x {c} vs huey SQLite x {c} threads"
    if importlib.util.find_spec("huey") is None:
        return Row("P1-peer", workload, "jobs/s", None, None, 1.5, reference_label="huey",
                   skipped="huey is not installed (pip install -e '.[bench]')")

    def huey() -> tuple[float, float]:
        with scratch("huey") as tmp:
            hdb = str(tmp / "huey.db")
            peer = [PYTHON, "-m", "benchmarks.huey_peer"]
            timed_cp(peer + ["enqueue", hdb, str(n), "true"], cwd=ROOT, capture_output=True)
            seconds, cp = timed_cp(peer + ["consume", hdb, str(n), str(c)], cwd=ROOT,
                                   capture_output=True, timeout=300)
            return seconds, cp.cpu

    say(f"P1-peer: {n} x true, queuectl vs huey, best of {rounds} ...")
    run, huey_s, huey_cpu = _alternate(rounds, _queuectl("peer", n, processes=1, concurrency=c),
                                       huey)
    return Row("P1-peer", workload, "jobs/s", n / run.elapsed, n / huey_s, 1.5,
               reference_label="huey 50 threads",
               detail=_detail(run, n, rounds) | {"huey_elapsed_s": huey_s,
                                                 "huey_cpu_ms_per_job": huey_cpu * 1000 / n})


def p1b(quick: bool) -> Row:
    """5,000 x `true`, 2 workers x 25, vs `seq N | xargs -P50 -I{} sh -c true`."""
    n, rounds = (1000, 1) if quick else (5000, 2)

    def xargs() -> tuple[float, float]:
        seconds, cp = timed_cp(["sh", "-c", f"seq {n} | xargs -P50 -I{{}} sh -c true"],
                               capture_output=True)
        return seconds, cp.cpu

    say(f"P1b: {n} x true, 2 workers x 25 vs xargs -P50, best of {rounds} ...")
    run, xargs_s, xargs_cpu = _alternate(
        rounds, _queuectl("p1b", n, processes=2, concurrency=25), xargs)
    return Row("P1b", f"{n} x true, 2 workers x 25", "jobs/s", n / run.elapsed, n / xargs_s, 0.75,
               reference_label="xargs -P50", detail=_detail(run, n, rounds) | {
                   "xargs_elapsed_s": xargs_s, "xargs_cpu_ms_per_job": xargs_cpu * 1000 / n})


def p2(quick: bool) -> Row:
    """2,000 x `sleep 0.1`, 1 worker x 50, vs the ideal N x 0.1 / 50 seconds."""
    n, c, rounds = (500, 50, 1) if quick else (2000, 50, 2)
    ideal = n * 0.1 / c

    def no_queue() -> tuple[float, float]:  # not the goal's reference: what this machine allows
        seconds, cp = timed_cp([PYTHON, "-m", "benchmarks.spawn_ref", str(n), str(c),
                                "sleep 0.1"], cwd=ROOT, capture_output=True)
        return seconds, cp.cpu

    say(f"P2: {n} x sleep 0.1, 1 worker x {c} (ideal {ideal:.1f}s), best of {rounds} ...")
    run, loop_s, loop_cpu = _alternate(rounds, _queuectl("p2", n, processes=1, concurrency=c,
                                                         command="sleep 0.1"), no_queue)
    detail = _detail(run, n, rounds) | {"run_command_loop_jobs_per_s": n / loop_s,
                                        "run_command_loop_cpu_ms_per_job": loop_cpu * 1000 / n}
    return Row("P2", f"{n} x sleep 0.1, 1 worker x {c}", "jobs/s", n / run.elapsed, n / ideal,
               0.97, reference_label=f"ideal {ideal:.1f}s", detail=detail)


BENCHMARKS = {"P1": p1, "P1-peer": p1_peer, "P1b": p1b, "P2": p2}
