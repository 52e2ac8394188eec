"""P1, P1-peer, P1b, P2, P1-pg: real `queuectl worker start --drain` processes running shell
commands (P1-pg on a PostgreSQL store, with 1, 2 and 4 processes).

On a shared 2-core machine one run is noisy, so the full suite runs queuectl and its reference
`rounds` times, alternating them, and keeps the best (shortest) of each; --quick runs once.
"""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable, Sequence

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
    scratch_store,
    timed_cp,
)


def _alternate(rounds: int, ours: Callable[[], WorkerRun],
               reference: Callable[[], tuple[float, float]]) -> tuple[WorkerRun, float, float]:
    """Best of `rounds` of each, alternating: (best worker run, best ref seconds, its CPU s)."""
    runs, ref_s, ref_cpu = _best_of(rounds, [ours], reference)
    return runs[0], ref_s, ref_cpu


def _best_of(rounds: int, ours: Sequence[Callable[[], WorkerRun]],
             reference: Callable[[], tuple[float, float]]
             ) -> tuple[list[WorkerRun], float, float]:
    """Each of `ours` then the reference, `rounds` times: (best run of each of ours, best
    reference seconds, its CPU s)."""
    best: list[WorkerRun | None] = [None] * len(ours)
    ref_best: tuple[float, float] | None = None
    for _ in range(rounds):
        for i, once in enumerate(ours):
            run = once()
            if best[i] is None or run.elapsed < best[i].elapsed:
                best[i] = run
        ref = reference()
        if ref_best is None or ref[0] < ref_best[0]:
            ref_best = ref
    return best, ref_best[0], ref_best[1]


def _queuectl(name: str, n: int, *, processes: int, concurrency: int | Sequence[int],
              command: str = "true", postgres: bool = False) -> Callable[[], WorkerRun]:
    def once() -> WorkerRun:
        with scratch(name) as tmp, scratch_store(tmp, name, postgres=postgres) as db:
            prefill(db, n, command=command)
            run = run_workers(db, tmp, processes=processes, concurrency=concurrency)
            require_all_completed(db, n, name)
            return run
    return once


def _spawn_ref(n: int, c: int, command: str = "true",
               watcher: list[str] | None = None) -> Callable[[], tuple[float, float]]:
    """P1's reference: queuectl's run_command x c in one process, no queue (spawn_ref.py)."""
    def reference() -> tuple[float, float]:
        seconds, cp = timed_cp([PYTHON, "-m", "benchmarks.spawn_ref", str(n), str(c), command],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if watcher is not None:
            watcher.append(cp.stderr.decode().strip().removeprefix("child watcher: "))
        return seconds, cp.cpu
    return reference


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
    watcher: list[str] = []
    say(f"P1: {n} x true, 1 worker x {c} vs run_command loop, best of {rounds} ...")
    run, ref_s, ref_cpu = _alternate(rounds, _queuectl("p1", n, processes=1, concurrency=c),
                                     _spawn_ref(n, c, watcher=watcher))
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

    # The spawn loop is not the goal's reference, only what this machine allows.
    say(f"P2: {n} x sleep 0.1, 1 worker x {c} (ideal {ideal:.1f}s), best of {rounds} ...")
    run, loop_s, loop_cpu = _alternate(rounds, _queuectl("p2", n, processes=1, concurrency=c,
                                                         command="sleep 0.1"),
                                       _spawn_ref(n, c, "sleep 0.1"))
    detail = _detail(run, n, rounds) | {"run_command_loop_jobs_per_s": n / loop_s,
                                        "run_command_loop_cpu_ms_per_job": loop_cpu * 1000 / n}
    return Row("P2", f"{n} x sleep 0.1, 1 worker x {c}", "jobs/s", n / run.elapsed, n / ideal,
               0.97, reference_label=f"ideal {ideal:.1f}s", detail=detail)


def _split(total: int, parts: int) -> list[int]:
    """`total` slots over `parts` processes: 50 -> [50], [25, 25], [13, 13, 12, 12]."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def p1_pg(quick: bool) -> list[Row]:
    """P1 on a PostgreSQL store with 1, 2 and 4 worker processes sharing 50 slots, each vs the
    same spawn loop as P1 (one process x 50, no queue); `scaling` is jobs/s over 1 process."""
    from . import pg

    n, c, rounds = (600, 50, 1) if quick else (3000, 50, 2)
    counts = (1, 2, 4)
    rows = [Row("P1-pg" if p == 1 else f"P1-pg-{p}",
                f"{n} x true, {p} worker(s) sharing {c} slots {_split(c, p)}, PostgreSQL",
                "jobs/s", None, None, 0.75, reference_label=f"run_command x{c} loop")
            for p in counts]
    skipped = pg.skip_reason()
    if skipped:
        for row in rows:
            row.skipped = skipped
        return rows
    say(f"P1-pg: {n} x true on PostgreSQL, {counts} workers sharing {c} slots vs run_command "
        f"loop, best of {rounds} ...")
    ours = [_queuectl("p1pg", n, processes=p, concurrency=_split(c, p), postgres=True)
            for p in counts]
    runs, ref_s, ref_cpu = _best_of(rounds, ours, _spawn_ref(n, c))
    for row, run in zip(rows, runs, strict=True):
        row.queuectl, row.reference = n / run.elapsed, n / ref_s
        row.detail = _detail(run, n, rounds) | {
            "scaling_vs_1_process": runs[0].elapsed / run.elapsed,
            "reference_elapsed_s": ref_s, "reference_cpu_ms_per_job": ref_cpu * 1000 / n}
    return rows


BENCHMARKS = {"P1": p1, "P1-peer": p1_peer, "P1b": p1b, "P2": p2, "P1-pg": p1_pg}
