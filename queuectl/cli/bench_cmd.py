"""queuectl bench: enqueue N jobs in bulk into a throwaway store, drain them with P worker
processes of C slots each, and report enqueue rate, jobs/s and start latency."""

import sys
from pathlib import Path

import typer

from ..errors import QueuectlError, UsageError

LATENCY_SAMPLE = 2000  # jobs whose attempt history is read back for the latency percentiles
POLL_S = 0.2


def bench(
    ctx: typer.Context,
    jobs: int = typer.Option(1000, "--jobs", "-n", help="Jobs to enqueue and run."),
    concurrency: int = typer.Option(50, "--concurrency", "-c", help="Slots per worker process."),
    command: str = typer.Option("true", "--command", help="Shell command every job runs."),
    processes: int = typer.Option(1, "--processes", "-p", help="Worker processes."),
    db: str = typer.Option(None, "--db", help="Store to use (default: a throwaway one in a temp dir)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Measure this machine: bulk enqueue, drain with real workers, report jobs/s and latency."""
    for name, value in (("--jobs", jobs), ("--concurrency", concurrency),
                        ("--processes", processes)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, got {value}")
    if not command.strip():
        raise UsageError("--command must not be blank")
    if "\0" in command:
        raise UsageError("--command must not contain a NUL character")
    import asyncio
    import shutil
    import tempfile

    explicit = db or ctx.find_root().params.get("db")  # never the user's default queue or env
    scratch = None if explicit else Path(tempfile.mkdtemp(prefix="queuectl-bench-"))
    url = explicit or str(scratch / "bench.db")
    logs = Path(tempfile.mkdtemp(prefix="queuectl-bench-logs-")) if scratch is None else scratch
    try:
        report = asyncio.run(_bench(url, logs, jobs, concurrency, processes, command,
                                    progress=sys.stderr.isatty() and not json_out))
    finally:
        shutil.rmtree(scratch or logs, ignore_errors=True)
    report["store"] = explicit or "temporary"
    if json_out:
        from .output import print_json

        print_json(report)
    else:
        _print_report(report)


async def _bench(url, logs, n, concurrency, processes, command, *, progress) -> dict:
    import os
    import time

    from ..jobs import NewJob
    from ..store import open_store
    from ..timeutil import now_ms

    store = await open_store(url)
    try:
        counts = await store.count_by_state()
        busy = counts["pending"] + counts["processing"] + counts["failed"]
        if busy:
            raise QueuectlError(f"the store {url} already holds {busy} unfinished job(s); "
                                "bench needs an idle store (omit --db for a throwaway one)")
        before = counts["completed"], counts["dead"]
        tag = os.urandom(3).hex()
        t0 = time.perf_counter()
        batch = [NewJob(f"bench-{tag}-{i:07d}", command, max_retries=0) for i in range(n)]
        await store.insert_jobs(batch, now=now_ms())
        enqueue_s = time.perf_counter() - t0
        del batch

        run_s = await _run_workers(store, url, logs, n, concurrency, processes, before, progress)
        counts = await store.count_by_state()
        completed, dead = counts["completed"] - before[0], counts["dead"] - before[1]
        latencies = await _start_latencies(store, tag, n)
    finally:
        await store.close()
    return {
        "jobs": n, "concurrency": concurrency, "processes": processes, "command": command,
        "enqueue_seconds": round(enqueue_s, 4), "enqueue_jobs_per_second": round(n / enqueue_s, 1),
        "run_seconds": round(run_s, 4), "jobs_per_second": round(n / run_s, 1),
        "completed": completed, "failed": dead,
        "start_latency_ms": _percentiles(latencies),
    }


async def _run_workers(store, url, logs, n, concurrency, processes, before, progress) -> float:
    """Spawn `queuectl worker start --concurrency C --drain` x P; seconds until all have exited."""
    import asyncio
    import time

    t0 = time.perf_counter()
    procs = _spawn_workers(url, logs, concurrency, processes)
    try:
        while any(p.poll() is None for p in procs):
            await asyncio.sleep(POLL_S)
            if progress:
                counts = await store.count_by_state()
                done = counts["completed"] - before[0] + counts["dead"] - before[1]
                _draw(done, n, time.perf_counter() - t0)
        elapsed = time.perf_counter() - t0
    finally:
        _stop_workers(procs)  # only those still running: interrupted by Ctrl-C
        if progress:
            sys.stderr.write("\r\033[K")
    _check_exits(procs, logs)
    return elapsed


def _spawn_workers(url: str, logs: Path, concurrency: int, processes: int) -> list:
    import os
    import subprocess

    argv = [sys.executable, "-c", "from queuectl.cli.entry import main; main()", "--db", url,
            "worker", "start", "--concurrency", str(concurrency), "--drain"]
    env = {k: v for k, v in os.environ.items() if k != "QUEUECTL_DB"}
    procs = []
    for i in range(processes):
        with open(logs / f"worker-{i}.log", "wb") as err:
            procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=err, env=env,
                                          start_new_session=True))
    return procs


def _stop_workers(procs: list) -> None:
    """Stop workers still running hard, as a second Ctrl-C would; KILL after 10 s."""
    import contextlib
    import os
    import signal
    import subprocess

    for p in procs:
        if p.poll() is not None:
            continue
        for sig in (signal.SIGTERM, signal.SIGTERM):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _check_exits(procs: list, logs: Path) -> None:
    for i, p in enumerate(procs):
        if p.returncode != 0:
            lines = (logs / f"worker-{i}.log").read_text(errors="replace").strip().splitlines()
            last = lines[-1] if lines else "no output"
            raise QueuectlError(f"worker process {i + 1} exited with code {p.returncode}: {last}")


def _draw(done: int, total: int, elapsed: float) -> None:
    width = 30
    filled = min(width, width * done // max(total, 1))
    rate = done / elapsed if elapsed > 0 else 0.0
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
                     f"{rate:,.0f} jobs/s {elapsed:.1f}s")
    sys.stderr.flush()


async def _start_latencies(store, tag: str, n: int) -> list[float]:
    """ms from each sampled job's run_at (due time) to the start of its first attempt."""
    step = max(1, n // LATENCY_SAMPLE)
    prefix = f"bench-{tag}-"
    sampled, i = [], 0
    async for job in store.iter_jobs():
        if not job.id.startswith(prefix):
            continue
        if i % step == 0:
            sampled.append(job)
        i += 1
    latencies = []
    for job in sampled:
        history = await store.attempts(job.id)
        if history:
            latencies.append(float(history[0].started_at - job.run_at))
    return latencies


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "sample": 0}
    ordered = sorted(values)

    def rank(p: int) -> float:
        return ordered[max(0, -(-len(ordered) * p // 100) - 1)]

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "sample": len(ordered)}


def _print_report(r: dict) -> None:
    lat = r["start_latency_ms"]

    def ms(value):
        return "-" if value is None else f"{value:,.0f} ms"

    plural = "es" if r["processes"] != 1 else ""
    sys.stdout.write(
        f"queuectl bench: {r['jobs']} jobs of `{r['command']}`, {r['processes']} worker "
        f"process{plural} x {r['concurrency']} slots, store {r['store']}\n"
        f"  enqueue        {r['enqueue_seconds']:.3f}s  ({r['enqueue_jobs_per_second']:,.0f} jobs/s)\n"
        f"  run            {r['run_seconds']:.3f}s  ({r['jobs_per_second']:,.1f} jobs/s, worker "
        f"start-up included)\n"
        f"  outcome        {r['completed']} completed, {r['failed']} failed\n"
        f"  start latency  p50 {ms(lat['p50'])}  p95 {ms(lat['p95'])}  p99 {ms(lat['p99'])}"
        f"  (due -> attempt start, {lat['sample']} jobs sampled)\n"
    )
