"""Flow control on SQLite: the claim that honours queue limits, pauses and dependencies, and
the transaction bodies behind queues, unique keys and `after` (DECISIONS.md §6).

Every body here runs inside one write transaction (`write_transaction`), on the store's
thread or in a one-shot command: SQLite has one writer at a time, so what a body reads is
still true when it writes.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any

from ..jobs import Job, NewJob
from . import deps
from .rows import JOB_COLUMNS, job_from_row

_DUE = "state IN ('pending', 'failed')"
_UNFINISHED = "state IN ('pending', 'failed', 'processing')"

# Candidates of one claim: the head of the ungated index (queues with neither a limit nor a
# pause), plus the head of each open queue's own index, capped at its free slots. Open
# queues are the limited ones (default), or the queues a `worker start --queue` serves.
_OPEN_LIMITED = """
SELECT name, max_running - (SELECT count(*) FROM jobs r INDEXED BY jobs_running
                            WHERE r.queue = q.name AND r.state = 'processing') AS free
FROM queues q INDEXED BY queues_limited WHERE max_running > 0 AND paused = 0
"""
_OPEN_SERVED = """
SELECT s.value AS name,
       CASE WHEN coalesce(q.max_running, 0) > 0
            THEN q.max_running - (SELECT count(*) FROM jobs r INDEXED BY jobs_running
                                  WHERE r.queue = s.value AND r.state = 'processing')
            ELSE :limit END AS free
FROM json_each(:served) s LEFT JOIN queues q ON q.name = s.value
WHERE coalesce(q.paused, 0) = 0
"""
_UNGATED_HEAD = f"""
SELECT seq, priority, run_at FROM (
    SELECT seq, priority, run_at FROM jobs INDEXED BY jobs_due
    WHERE {_DUE} AND gated = 0 AND waiting = 0 AND run_at <= :now
    ORDER BY priority DESC, run_at, seq LIMIT :limit)
UNION ALL
"""
_CLAIM = """
UPDATE jobs SET state = 'processing', worker_id = :worker, attempts = attempts + 1,
       run_no = run_no + 1, started_at = :now, updated_at = :now, pid = NULL
WHERE seq IN (
    WITH open AS ({open}), candidates AS (
        {ungated}
        SELECT seq, priority, run_at FROM (
            SELECT j.seq, j.priority, j.run_at, o.free, row_number() OVER (
                PARTITION BY o.name ORDER BY j.priority DESC, j.run_at, j.seq) AS n
            FROM open o JOIN jobs j ON j.seq IN (
                SELECT x.seq FROM jobs x INDEXED BY jobs_queue_due
                WHERE x.queue = o.name AND x.waiting = 0 AND x.{due} AND x.run_at <= :now
                ORDER BY x.priority DESC, x.run_at, x.seq LIMIT :limit)
            WHERE o.free > 0)
        WHERE n <= free)
    SELECT seq FROM candidates ORDER BY priority DESC, run_at, seq LIMIT :limit)
RETURNING {columns}, seq
"""
# One statement per batch: choosing the jobs, counting each limited queue's running jobs and
# marking the chosen ones `processing` all happen under SQLite's single write lock.
CLAIM_ALL = _CLAIM.format(open=_OPEN_LIMITED, ungated=_UNGATED_HEAD, due=_DUE,
                          columns=JOB_COLUMNS)
CLAIM_SERVED = _CLAIM.format(open=_OPEN_SERVED, ungated="", due=_DUE, columns=JOB_COLUMNS)


def claim_params(worker_id: str, limit: int, now: int, queues: Sequence[str] | None) -> tuple:
    import json

    params = {"worker": worker_id, "now": now, "limit": limit}
    if queues is None:
        return CLAIM_ALL, params
    return CLAIM_SERVED, params | {"served": json.dumps(list(queues))}


# -- queues -----------------------------------------------------------------------------

GATED_QUEUES = "SELECT name FROM queues WHERE paused = 1 OR max_running > 0"
# The gate of a job that comes back to the queue from `dead` (dlq retry)
GATE_OF_QUEUE = ("(SELECT count(*) FROM queues q WHERE q.name = jobs.queue "
                 "AND (q.paused = 1 OR q.max_running > 0))")


def gated_queues(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute(GATED_QUEUES)}


def set_queues(conn: sqlite3.Connection, names: Sequence[str], *, paused: bool | None = None,
               limit: int | None = None) -> None:
    """Pause/resume or limit queues (created when unknown), and move their waiting jobs
    between the ungated index and their queue's own (the `gated` flag) in the same
    transaction, so the next claim anywhere sees both."""
    for name in names:
        conn.execute("INSERT INTO queues (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        if paused is not None:
            conn.execute("UPDATE queues SET paused = ? WHERE name = ?", (int(paused), name))
        if limit is not None:
            conn.execute("UPDATE queues SET max_running = ? WHERE name = ?", (limit, name))
        gate = conn.execute("SELECT paused = 1 OR max_running > 0 FROM queues WHERE name = ?",
                            (name,)).fetchone()[0]
        # running jobs too: a retry or a rescue puts them back in the queue with this flag
        conn.execute(f"UPDATE jobs INDEXED BY jobs_queue_due SET gated = ? "
                     f"WHERE queue = ? AND {_DUE} AND gated <> ?", (gate, name, gate))
        conn.execute("UPDATE jobs INDEXED BY jobs_running SET gated = ? "
                     "WHERE queue = ? AND state = 'processing' AND gated <> ?", (gate, name, gate))


def any_limited(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM queues INDEXED BY queues_limited "
                        "WHERE max_running > 0 AND paused = 0 LIMIT 1").fetchone() is not None


def held_key_message(conn: sqlite3.Connection, ids: Sequence[str]) -> str:
    """Why a dead job cannot come back: another unfinished job holds its unique key now."""
    for job_id in ids:
        row = conn.execute(
            f"SELECT d.id, d.unique_key, h.id FROM jobs d JOIN jobs h ON h.unique_key = "
            f"d.unique_key AND h.{_UNFINISHED} WHERE d.id = ? AND h.id <> d.id", (job_id,)
        ).fetchone()
        if row:
            return f"job {row[0]!r}: unique key {row[1]!r} is held by unfinished job {row[2]!r}"
    return "a unique key of these jobs is held by an unfinished job"


QUEUE_SETTINGS = "SELECT name, paused, max_running FROM queues"


# -- enqueue: gates, unique keys, dependencies --------------------------------------------

HOLDER = f"SELECT {JOB_COLUMNS} FROM jobs WHERE unique_key = ? AND {_UNFINISHED}"


def unique_holders(conn: sqlite3.Connection, jobs: Sequence[NewJob]) -> dict[int, Job]:
    """Jobs of the batch that were not inserted because another job holds their unique key:
    position -> the holder (the insert skipped them: ON CONFLICT DO NOTHING)."""
    holders = {}
    for position, job in enumerate(jobs):
        if job.unique_key is None:
            continue
        row = conn.execute(HOLDER, (job.unique_key,)).fetchone()
        if row[0] != job.id:
            holders[position] = job_from_row(row)
    return holders


def link_dependencies(conn: sqlite3.Connection, jobs: Sequence[NewJob],
                      holders: dict[int, Job], now: int) -> None:
    """Record what each new job waits for: an edge per unfinished dependency, its `waiting`
    count, and `dead` at once (attempts 0) when a dependency is already dead."""
    if not any(job.after for job in jobs):
        return
    stored = {}
    for dep in deps.stored_dependencies(jobs):
        row = conn.execute("SELECT state FROM jobs WHERE id = ?", (dep,)).fetchone()
        if row is not None:
            stored[dep] = row[0]
    skipped = {position: holder.id for position, holder in holders.items()}
    for link in deps.plan(jobs, skipped, stored):
        if link.failed is not None:
            _bury(conn, [(link.job_id, link.failed)], now)
            continue
        conn.executemany("INSERT OR IGNORE INTO job_deps (dep_id, job_id) VALUES (?, ?)",
                         [(dep, link.job_id) for dep in link.open_deps])
        conn.executemany("UPDATE jobs SET has_dependents = 1 WHERE id = ?",
                         [(dep,) for dep in link.open_deps])
        conn.execute("UPDATE jobs SET waiting = ? WHERE id = ?", (len(link.open_deps), link.job_id))


def reread_with_after(conn: sqlite3.Connection, jobs: Sequence[NewJob],
                      holders: dict[int, Job]) -> dict[int, Job]:
    """position -> the stored job, for the new jobs that have `after` (one may be dead already)."""
    out = {}
    for position, job in enumerate(jobs):
        if job.after and position not in holders:
            row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job.id,)).fetchone()
            out[position] = job_from_row(row)
    return out


def _bury(conn: sqlite3.Connection, doomed: Sequence[tuple[str, str]], now: int) -> None:
    """(job id, the dependency that failed) -> dead without running, attempts unchanged."""
    conn.executemany(
        f"UPDATE jobs SET state = 'dead', last_error = 'dependency ' || ? || ' failed', "
        f"updated_at = ?, waiting = 0 WHERE id = ? AND {_DUE}",
        [(dep, now, job_id) for job_id, dep in doomed])


# -- finishing: dependents are resolved in the transaction that ends their dependency ----------

def resolve_dependents(conn: sqlite3.Connection, ids: Sequence[str], now: int) -> int:
    """For jobs among `ids` that have dependents and have ended: a completed one releases its
    dependents (one fewer to wait for), a dead one buries them, and theirs, down the chain.
    Idempotent: the edges go as they are resolved. Returns how many jobs became due."""
    if conn.execute("SELECT 1 FROM job_deps LIMIT 1").fetchone() is None:
        return 0  # nobody waits: one probe instead of a lookup per finished job
    ended = _ended_with_dependents(conn, ids)
    released = 0
    dead = [job_id for job_id, state in ended if state == "dead"]
    for job_id, state in ended:
        if state == "completed":
            released += _release(conn, job_id)
    while dead:  # breadth first: a chain of 1,000 is 1,000 small steps, never a recursion
        edges = _take_edges(conn, dead)
        _bury(conn, [(job_id, dep) for dep, job_id in edges], now)
        dead = [job_id for _, job_id in edges]
    return released


def _ended_with_dependents(conn: sqlite3.Connection, ids: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ",".join("?" * len(chunk))
        out += conn.execute(
            # the unary + keep the planner on the id index: through jobs_state it would walk
            # every completed job (1.8 s a group commit at 10^6 jobs)
            f"SELECT id, state FROM jobs WHERE id IN ({marks}) AND +has_dependents = 1 "
            "AND +state IN ('completed', 'dead')", chunk).fetchall()
    return out


def _release(conn: sqlite3.Connection, dep_id: str) -> int:
    dependents = [r[0] for r in conn.execute(
        "DELETE FROM job_deps WHERE dep_id = ? RETURNING job_id", (dep_id,))]
    conn.executemany("UPDATE jobs SET waiting = waiting - 1 WHERE id = ? AND waiting > 0",
                     [(job_id,) for job_id in dependents])
    return sum(_state_waiting(conn, job_id) == 0 for job_id in dependents)


def _state_waiting(conn: sqlite3.Connection, job_id: str) -> int | None:
    row = conn.execute("SELECT waiting FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else row[0]


def _take_edges(conn: sqlite3.Connection, dep_ids: Sequence[str]) -> list[tuple[Any, Any]]:
    edges = []
    for dep in dep_ids:
        edges += conn.execute(
            "DELETE FROM job_deps WHERE dep_id = ? RETURNING dep_id, job_id", (dep,)).fetchall()
    return edges
