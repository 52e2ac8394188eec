"""What every benchmark shares: result rows, scratch stores, fast prefill, timed worker runs."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from queuectl.store.sqlite_sql import recount

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUEUECTL = str(BIN / "queuectl") if (BIN / "queuectl").exists() else (shutil.which("queuectl") or "queuectl")
PYTHON = sys.executable
Store = Path | str  # a SQLite file, or a postgresql:// URL (see scratch_store)


class BenchError(Exception):
    """A benchmark could not produce a figure (a worker failed, jobs were left over...)."""


@dataclass
class Row:
    """One line of the results table and one entry of results/latest.json.

    `goal_on` says what the goal applies to: the ratio queuectl/reference, or queuectl's own
    figure (absolute goals such as P3's 10,000 jobs/s); `goal_op` is ">=" or "<=".
    """

    id: str
    workload: str
    metric: str
    queuectl: float | None
    reference: float | None
    goal: float
    goal_on: str = "ratio"
    goal_op: str = ">="
    reference_label: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.queuectl is None or not self.reference:
            return None
        return self.queuectl / self.reference

    @property
    def met(self) -> bool | None:
        value = self.ratio if self.goal_on == "ratio" else self.queuectl
        if value is None:
            return None
        return value >= self.goal if self.goal_op == ">=" else value <= self.goal

    def goal_text(self) -> str:
        what = "ratio" if self.goal_on == "ratio" else self.metric
        return f"{what} {self.goal_op} {self.goal:g}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "workload": self.workload, "metric": self.metric,
            "queuectl": _round(self.queuectl), "reference": _round(self.reference),
            "reference_label": self.reference_label,
            "ratio": _round(self.ratio, 4), "goal": self.goal, "goal_on": self.goal_on,
            "goal_op": self.goal_op, "met": self.met, "skipped": self.skipped,
            "detail": {k: _round(v) if isinstance(v, float) else v for k, v in self.detail.items()},
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def say(text: str) -> None:
    """Progress on stderr; the table goes to stdout."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- scratch space


@contextlib.contextmanager
def scratch(name: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"queuectl-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def scratch_store(tmp: Path, name: str, *, postgres: bool = False) -> Iterator[Store]:
    """A fresh store for one run: a file in tmp, or a PostgreSQL schema of its own (dropped
    afterwards). Every helper below takes either."""
    if not postgres:
        yield tmp / "q.db"
        return
    from . import pg

    with pg.schema(name) as url:
        yield url


def is_pg(db: Store) -> bool:
    return isinstance(db, str) and db.split("://", 1)[0] in ("postgresql", "postgres")


def cli_env(db: Store, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(QUEUECTL_DB=str(db), XDG_DATA_HOME=str(tmp / "xdg"), NO_COLOR="1", LC_ALL="C.UTF-8")
    return env


def create_store(db: Path) -> sqlite3.Connection:
    """A migrated store, created by queuectl's own schema code (a sync connection)."""
    from queuectl.store.sqlite_schema import open_sync

    return open_sync(db)


def prefill(db: Store, pending: int, *, command: str = "true", completed: int = 0,
            max_retries: int = 0, prefix: str = "b", queues: int = 0) -> None:
    """Insert `completed` finished jobs (each with one attempt row, spread over the last 7 days)
    then `pending` due jobs, in one transaction: about 10 s for 10^6 on a small machine.

    Uses the columns of the store's INSERT_JOB plus state/attempts/run_no/exit_code, then
    recounts the per-state counts as migrate-store does. PostgreSQL: pending jobs only.
    """
    if is_pg(db):
        from . import pg

        if completed:
            raise ValueError("PostgreSQL prefill makes pending jobs only")
        return pg.prefill(db, pending, command=command, max_retries=max_retries, prefix=prefix)
    conn = create_store(db)
    # Bulk-load mode: no journal, a big cache, secondary indexes rebuilt once at the end.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('jobs', 'attempts')").fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    now = int(time.time() * 1000)
    week = 7 * 24 * 3600 * 1000
    total = completed + pending

    # Rows are generated inside SQLite (a recursive CTE): no Python loop over 10^6 tuples.
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < :total) "
        "INSERT INTO jobs (id, command, state, attempts, max_retries, priority, run_at, timeout, "
        "exit_code, created_at, updated_at, run_no, queue) "
        "SELECT printf('%s%08d', :prefix, i), :command, "
        "CASE WHEN i < :done THEN 'completed' ELSE 'pending' END, i < :done, :retries, 0, "
        "CASE WHEN i < :done THEN :now - :week + (:week * i) / max(:done, 1) ELSE :now END, "
        "NULL, CASE WHEN i < :done THEN 0 END, "
        "CASE WHEN i < :done THEN :now - :week + (:week * i) / max(:done, 1) ELSE :now END, "
        "CASE WHEN i < :done THEN :now - :week + (:week * i) / max(:done, 1) ELSE :now END, "
        "i < :done, CASE WHEN :queues THEN printf('q%d', i % :queues) ELSE 'default' END FROM k",
        {"total": total, "prefix": prefix, "command": command, "done": completed,
         "retries": max_retries, "now": now, "week": week, "queues": queues})
    if completed:
        conn.execute(
            "INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, "
            "duration) SELECT id, 1, 'prefill', run_at, run_at + 3, 1, 0, 0.003 FROM jobs "
            "WHERE state = 'completed'")
    for _, sql in indexes:
        conn.execute(sql)
    recount(conn)  # the schema counts inserts per batch, not per row
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    settle(db)


def settle(db: Path) -> None:
    """Write the bulk load back to disk before anything is measured on it. With synchronous and
    journal off, the freshly built file is all dirty pages whose blocks ext4 has not even
    allocated yet (delayed allocation); the first fsync of the measured run -- the engine's first
    WAL checkpoint -- would otherwise pay for writing the whole file back (about 0.25 s for
    10^6 jobs, half of a 2,500-job round: P7-claim's first round at 10^6 ran at 0.5x)."""
    fd = os.open(db, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def count_states(db: Store) -> dict[str, int]:
    if is_pg(db):
        from . import pg

        return pg.count_states(db)
    conn = sqlite3.connect(db, timeout=30)
    try:
        return dict(conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    finally:
        conn.close()


def require_all_completed(db: Store, n: int, what: str) -> None:
    counts = count_states(db)
    if counts.get("completed", 0) != n:
        raise BenchError(f"{what}: expected {n} completed jobs, store has {counts}")


# --------------------------------------------------------------------------- workers


@dataclass
class WorkerRun:
    elapsed: float  # first spawn to last exit, seconds
    startup: float | None  # spawn to the first worker's "started" log line (ms clock)
    in_loop: float | None  # first "started" log line to last log line
    logs: list[Path]
    cpu: float = 0.0  # user + sys seconds of the workers and the jobs they reaped


def run_workers(db: Store, tmp: Path, *, processes: int, concurrency: int | Sequence[int],
                timeout: float = 300, preexec_fn: Callable[[], None] | None = None) -> WorkerRun:
    """`queuectl worker start --concurrency C --drain` x P, timed from spawn to the last exit.
    `concurrency` is C for every process, or one C per process; `preexec_fn` runs in each
    worker process before it starts (e.g. to lower a resource limit)."""
    env = cli_env(db, tmp)
    logs = [tmp / f"worker-{i}.log" for i in range(processes)]
    each = [concurrency] * processes if isinstance(concurrency, int) else list(concurrency)
    procs = []
    cpu0 = children_cpu()
    wall0 = time.time()
    t0 = time.perf_counter()
    for log, c in zip(logs, each, strict=True):
        with open(log, "wb") as err:
            procs.append(subprocess.Popen(
                [QUEUECTL, "worker", "start", "--concurrency", str(c), "--drain"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env,
                cwd=tmp, start_new_session=True, preexec_fn=preexec_fn))
    try:
        codes = [p.wait(timeout=timeout) for p in procs]
    except subprocess.TimeoutExpired:
        raise BenchError(f"workers still running after {timeout}s") from None
    finally:
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    elapsed = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    for code, log in zip(codes, logs, strict=True):
        if code != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise BenchError(f"worker exited {code}: {' | '.join(tail)}")
    first, last = _log_span(logs)
    startup = None if first is None else first - wall0
    in_loop = None if first is None or last is None else last - first
    return WorkerRun(elapsed, startup, in_loop, logs, cpu)


def children_cpu() -> float:
    """user + sys seconds of every waited-for descendant so far (grandchildren included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _log_span(logs: list[Path]) -> tuple[float | None, float | None]:
    """Earliest and latest timestamps that start a worker log line."""
    firsts, lasts = [], []
    for log in logs:
        stamps = []
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError, IndexError):
                stamps.append(datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))
                              .timestamp())
        if stamps:
            firsts.append(stamps[0])
            lasts.append(stamps[-1])
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def timed_run(argv: list[str], **kw: Any) -> float:
    """Wall seconds of one process run to exit; raises BenchError on a non-zero exit."""
    return timed_cp(argv, **kw)[0]


def timed_cp(argv: list[str], **kw: Any) -> tuple[float, subprocess.CompletedProcess]:
    """(wall seconds, CompletedProcess); cp.cpu holds the user + sys seconds it used."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    cp = subprocess.run(argv, **kw)
    elapsed = time.perf_counter() - t0
    cp.cpu = children_cpu() - cpu0
    if cp.returncode != 0:
        err = cp.stderr.decode(errors="replace")[-500:] if isinstance(cp.stderr, bytes) else ""
        raise BenchError(f"{' '.join(map(str, argv[:4]))} exited {cp.returncode}: {err}")
    return elapsed, cp


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
