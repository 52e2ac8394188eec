"""P10: a thousand slots. One `queuectl worker start --concurrency 1000 --drain` running 3,000 x
`sleep 1` against `xargs -P1000` in the same run, both under a stock soft descriptor limit of
1024 (the worker raises its own); no attempt may fail. P10-rss: the worker's peak RSS at 1,000
running `sleep` jobs, with `status`, `worker list` and `worker stop` timed meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from .common import (
    QUEUECTL,
    BenchError,
    Row,
    WorkerRun,
    cli_env,
    median,
    prefill,
    require_all_completed,
    rss_mb,
    run_workers,
    say,
    scratch,
    timed_cp,
)
from .spawn import _alternate, _detail

STOCK_SOFT_NOFILE = 1024  # what a new user's shell has on most Linux distributions


def stock_soft_limit() -> None:
    """preexec_fn: the soft descriptor limit of a stock login shell, the hard one unchanged."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(STOCK_SOFT_NOFILE, hard), hard))


def failed_attempts(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM attempts WHERE NOT ok").fetchone()[0]
    finally:
        conn.close()


def _queuectl(n: int, c: int):
    def once() -> WorkerRun:
        with scratch("p10") as tmp:
            db = tmp / "q.db"
            prefill(db, n, command="sleep 1")
            run = run_workers(db, tmp, processes=1, concurrency=c, preexec_fn=stock_soft_limit)
            require_all_completed(db, n, "P10")
            failed = failed_attempts(db)
            if failed:  # the goal says none: a spawn the worker could not make must not count
                raise BenchError(f"P10: {failed} failed attempt(s)")
            return run
    return once


def _xargs(n: int, c: int):
    def reference() -> tuple[float, float]:
        seconds, cp = timed_cp(["sh", "-c", f"seq {n} | xargs -P{c} -n1 sh -c 'sleep 1'"],
                               capture_output=True, preexec_fn=stock_soft_limit)
        return seconds, cp.cpu
    return reference


def p10(quick: bool) -> list[Row]:
    n, c, rounds = (1000, 500, 1) if quick else (3000, 1000, 2)
    say(f"P10: {n} x sleep 1, 1 worker x {c} vs xargs -P{c}, soft limit "
        f"{STOCK_SOFT_NOFILE}, best of {rounds} ...")
    run, xargs_s, xargs_cpu = _alternate(rounds, _queuectl(n, c), _xargs(n, c))
    ideal = n / c  # seconds if every slot were busy all the time
    rows = [Row("P10", f"{n} x sleep 1, 1 worker x {c}, soft nofile {STOCK_SOFT_NOFILE}",
                "jobs/s", n / run.elapsed, n / xargs_s, 0.9, reference_label=f"xargs -P{c}",
                detail=_detail(run, n, rounds) | {
                    "failed_attempts": 0, "ideal_s": ideal, "xargs_elapsed_s": xargs_s,
                    "xargs_cpu_ms_per_job": xargs_cpu * 1000 / n})]
    rows.append(p10_rss(2 * c if not quick else c, c, 1.5 if quick else 3.0))
    return rows


def p10_rss(n: int, c: int, seconds: float) -> Row:
    """Peak RSS of a worker x c running `sleep 1` jobs; one-shot commands timed meanwhile."""
    say(f"P10-rss: worker x {c}, {n} x sleep 1, RSS and commands over {seconds:.0f}s ...")
    with scratch("p10rss") as tmp:
        db = tmp / "q.db"
        prefill(db, n, command="sleep 1")
        env = cli_env(db, tmp)
        idle = {"status": [], "worker list": []}
        for _ in range(3):  # the same commands with no worker running: the machine's baseline
            _time_commands(env, tmp, idle)
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen([QUEUECTL, "worker", "start", "--concurrency", str(c)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=log, env=env, cwd=tmp, start_new_session=True,
                                    preexec_fn=stock_soft_limit)
        try:
            peak, timings = _watch(proc, env, tmp, seconds)
            t0 = time.perf_counter()
            _command(["worker", "stop", "--timeout", "60"], env, tmp)
            stop_s = time.perf_counter() - t0
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    detail = {"slots": c, "jobs": n, "status_ms_median": median(timings["status"]),
              "worker_list_ms_median": median(timings["worker list"]),
              "idle_status_ms_median": median(idle["status"]),
              "idle_worker_list_ms_median": median(idle["worker list"]),
              "worker_stop_s": stop_s}
    return Row("P10-rss", f"worker x {c} running sleep 1: peak RSS", "MB", peak, None, 150,
               goal_on="queuectl", goal_op="<=", detail=detail)


def _watch(proc: subprocess.Popen, env: dict, tmp: Path, seconds: float):
    """Sample the worker's RSS and time `status` / `worker list` for `seconds`."""
    peak, timings = [0.0], {"status": [], "worker list": []}

    def sample() -> None:
        peak[0] = max(peak[0], rss_mb(proc.pid) or 0.0)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        _time_commands(env, tmp, timings, sample)
        for _ in range(5):
            sample()
            time.sleep(0.02)
    if proc.poll() is not None:
        raise BenchError(f"P10-rss: the worker exited {proc.returncode}")
    return peak[0], timings


def _time_commands(env: dict, tmp: Path, timings: dict[str, list[float]],
                   between=lambda: None) -> None:
    """`status` then `worker list`, each timed (ms) into `timings`; `between` runs after each."""
    for name, args in (("status", ["status"]), ("worker list", ["worker", "list"])):
        t0 = time.perf_counter()
        _command(args, env, tmp)
        timings[name].append((time.perf_counter() - t0) * 1000)
        between()


def _command(args: list[str], env: dict, tmp: Path) -> None:
    cp = subprocess.run([QUEUECTL, *args], env=env, cwd=tmp, capture_output=True, timeout=120)
    if cp.returncode != 0:
        raise BenchError(f"queuectl {' '.join(args)} exited {cp.returncode}: {cp.stderr[-300:]!r}")


BENCHMARKS = {"P10": p10}
