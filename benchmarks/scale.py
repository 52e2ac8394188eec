"""P7: does queuectl stay fast when the store holds 1,000,000 jobs? Same measures at 10,000.

Both stores have the shape of a long-lived queue: mostly completed jobs (each with an attempt
row, finished over the last 7 days) and a backlog of pending `true` jobs.
  - claim rate: the engine with the instant runner (as P3), in alternating rounds of 2,500
    jobs on fresh copies of the stores (`_claim_rates`);
  - `queuectl status`, `queuectl list --state pending --limit 20` and `queuectl queue list`:
    wall time of the whole command (start-up included: it is what a user waits for), median
    of 5;
  - worker RSS: a real `queuectl worker start --concurrency 50` on the store, peak VmRSS
    sampled every 50 ms while it runs the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .common import (
    QUEUECTL,
    Row,
    cli_env,
    median,
    prefill,
    rss_mb,
    say,
    scratch,
    settle,
    timed_run,
)
from .engine_bench import engine_rate


def _shape(total: int) -> tuple[int, int]:
    """(pending, completed) for a store of `total` jobs."""
    pending = max(5_000, total // 10)
    return pending, total - pending


def _cli_ms(stores: list[tuple[Path, Path]], *args: str, runs: int = 5) -> list[float]:
    """Median wall ms of `queuectl ARGS` on each (db, tmp) store, runs interleaved across the
    stores so that background load on a shared machine hits them alike."""
    kws = [{"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": cli_env(db, tmp),
            "cwd": tmp} for db, tmp in stores]
    for kw in kws:
        timed_run([QUEUECTL, *args], **kw)  # warm-up
    times: list[list[float]] = [[] for _ in stores]
    for _ in range(runs):
        for kw, out in zip(kws, times, strict=True):
            out.append(timed_run([QUEUECTL, *args], **kw) * 1000)
    return [median(t) for t in times]


async def _store_ms(db: Path, runs: int = 5) -> tuple[float, float]:
    """The store calls behind `status` and `list --state pending --limit 20`, in process (ms)."""
    from queuectl.jobs import JobState
    from queuectl.store import open_store
    from queuectl.timeutil import now_ms

    store = await open_store(str(db))
    try:
        status, listing = [], []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            await store.count_by_state()
            await store.list_workers()
            await store.metrics(now=now_ms())
            t1 = time.perf_counter()
            [j async for j in store.iter_jobs(state=JobState.PENDING, limit=20)]
            t2 = time.perf_counter()
            status.append((t1 - t0) * 1000)
            listing.append((t2 - t1) * 1000)
        return median(status[1:]), median(listing[1:])
    finally:
        await store.close()


def _worker_rss(db: Path, tmp: Path, seconds: float) -> float:
    log = open(tmp / "rss-worker.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([QUEUECTL, "worker", "start", "--concurrency", "50"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                            env=cli_env(db, tmp), cwd=tmp, start_new_session=True)
    peak = 0.0
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            peak = max(peak, rss_mb(proc.pid) or 0.0)
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    return peak


def _claim_rates(stores: list[Path], *, per_round: int, rounds: int) -> list[float]:
    """The engine's claim+finish rate on each store: `rounds` rounds of `per_round` jobs, the
    stores alternating (and their order too, so that drift in the machine's load hits both
    alike), each round on a fresh copy of its store (settled on disk like the original): every
    round measures the same store, and the small one has only 5,000 pending jobs."""
    spent = [[0, 0.0] for _ in stores]
    for n in range(rounds):
        order = list(zip(stores, spent, strict=True))
        for db, acc in order if n % 2 == 0 else reversed(order):
            copy = db.with_name("round.db")
            shutil.copyfile(db, copy)
            settle(copy)
            ran, seconds = engine_rate(copy, stop_after=per_round)
            acc[0] += ran
            acc[1] += seconds
            for path in copy.parent.glob("round.db*"):
                path.unlink()
    return [ran / seconds for ran, seconds in spent]


def _build(total: int, tmp: Path) -> Path:
    pending, completed = _shape(total)
    db = tmp / "q.db"
    t0 = time.perf_counter()
    prefill(db, pending, completed=completed)
    say(f"P7: store of {total:,} jobs prefilled in {time.perf_counter() - t0:.1f}s")
    return db


def p7(quick: bool) -> list[Row]:
    big_n, small_n = (100_000, 10_000) if quick else (1_000_000, 10_000)
    claim, rounds = (1_000, 2) if quick else (2_500, 4)
    rss_s = 1.0 if quick else 3.0
    with scratch("p7-small") as small_tmp, scratch("p7-big") as big_tmp:
        stores = [(_build(small_n, small_tmp), small_tmp), (_build(big_n, big_tmp), big_tmp)]
        say("P7: measuring claim rate, status, list, worker RSS on both stores ...")
        small, big = ({"db_mb": db.stat().st_size / 2**20} for db, _ in stores)
        rates = _claim_rates([db for db, _ in stores], per_round=claim, rounds=rounds)
        for m, rate, (db, _) in zip((small, big), rates, stores, strict=True):
            m["claim_jobs_per_s"] = rate
            m["status_store_ms"], m["list_store_ms"] = asyncio.run(_store_ms(db))
        small["status_ms"], big["status_ms"] = _cli_ms(stores, "status")
        small["list_ms"], big["list_ms"] = _cli_ms(
            stores, "list", "--state", "pending", "--limit", "20")
        small["queues_ms"], big["queues_ms"] = _cli_ms(stores, "queue", "list")
        for m, (db, tmp) in zip((small, big), stores, strict=True):
            m["rss_mb"] = _worker_rss(db, tmp, rss_s)
    ref = f"same at {small_n:,} jobs"
    where = f"store of {big_n:,} jobs"
    return [
        Row("P7-claim", f"{where}: engine claim+finish rate, {rounds} x {claim} jobs", "jobs/s",
            big["claim_jobs_per_s"], small["claim_jobs_per_s"], 0.8, reference_label=ref,
            detail={"big_db_mb": big["db_mb"]}),
        Row("P7-status", f"{where}: queuectl status (whole command)", "ms",
            big["status_ms"], small["status_ms"], 100, goal_on="queuectl", goal_op="<=",
            reference_label=ref, detail={"store_calls_ms": big["status_store_ms"],
                                         "store_calls_ms_small": small["status_store_ms"]}),
        Row("P7-list", f"{where}: queuectl list --state pending --limit 20", "ms",
            big["list_ms"], small["list_ms"], 100, goal_on="queuectl", goal_op="<=",
            reference_label=ref, detail={"store_calls_ms": big["list_store_ms"],
                                         "store_calls_ms_small": small["list_store_ms"]}),
        Row("P7-queues", f"{where}: queuectl queue list (whole command)", "ms",
            big["queues_ms"], small["queues_ms"], 100, goal_on="queuectl", goal_op="<=",
            reference_label=ref),
        Row("P7-rss", f"{where}: worker x 50 peak RSS", "MB", big["rss_mb"], small["rss_mb"], 80,
            goal_on="queuectl", goal_op="<=", reference_label=ref),
    ]


BENCHMARKS = {"P7": p7}
