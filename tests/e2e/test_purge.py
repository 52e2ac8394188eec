"""`queuectl purge` and automatic retention through the installed executable, including the
races of the issue: neither ever deletes a pending, failed or processing job, even racing
`dlq retry` in other processes."""

import asyncio
import contextlib
import itertools
import json
import sqlite3
import subprocess
import time

import pytest

from .conftest import QUEUECTL, assert_error, pg_query, pg_schema, wait_until


def finished_store(q):
    """ok1, ok2 completed (batch b1 / b2), bad dead with output, live pending."""
    q.enqueue({"id": "ok1", "command": "echo one"}, "--batch", "b1")
    q.enqueue({"id": "ok2", "command": "true"}, "--batch", "b2")
    q.enqueue({"id": "bad", "command": "echo oops; exit 3", "max_retries": 0}, "--batch", "b1")
    q.drain()
    q.enqueue({"id": "live", "command": "true", "delay": 3600}, "--batch", "b1")


def test_purge_deletes_completed_by_default_with_history_and_output(q):
    finished_store(q)
    assert q.ok("purge", "--dry-run").stdout == "2 jobs would be deleted\n"
    assert set(q.by_id()) == {"ok1", "ok2", "bad", "live"}  # a dry run changes nothing
    assert q.ok("purge").stdout == "2 jobs deleted\n"
    assert set(q.by_id()) == {"bad", "live"}
    assert_error(q.run("show", "ok1"), 1, "ok1")
    assert_error(q.run("logs", "ok1"), 1, "ok1")
    status = q.json("status", "--json")
    assert status["jobs"] | {"total": 0} == {"pending": 1, "processing": 0, "completed": 0,
                                             "failed": 0, "dead": 1, "total": 0}
    assert status["jobs"]["total"] == 2 and status["dlq"] == 1


def test_purge_by_state_batch_and_age_with_json(q):
    finished_store(q)
    assert q.json("purge", "--state", "dead", "--older-than", "1h", "--json") == {"deleted": 0}
    assert q.json("purge", "--state", "dead", "--state", "completed", "--batch", "b1",
                  "--dry-run", "--json") == {"deleted": 2, "dry_run": True}
    assert q.json("purge", "--state", "dead", "--state", "completed", "--batch", "b1",
                  "--json") == {"deleted": 2}
    assert set(q.by_id()) == {"ok2", "live"}
    assert q.ok("purge", "--state", "completed", "--older-than", "0s").stdout == "1 job deleted\n"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--state", "pending"], "never deletes pending"),
    (["--state", "failed"], "never deletes failed"),
    (["--state", "processing"], "never deletes processing"),
    (["--state", "completed", "--state", "done"], "unknown state"),
    (["--older-than", "a week"], "--older-than"),
    (["--older-than", "-1d"], "--older-than"),
])
def test_bad_purges_are_exit_2_and_delete_nothing(q, args, fragment):
    finished_store(q)
    assert_error(q.run("purge", *args), 2, fragment)
    assert len(q.by_id()) == 4


def test_running_workers_apply_retention(q, workers):
    q.config_set("keep-completed", 1)
    q.config_set("keep-dead", 0)  # forever
    q.enqueue({"id": "ok", "command": "true"})
    q.enqueue({"id": "bad", "command": "false", "max_retries": 0})
    worker = workers.start("--concurrency", "2")
    wait_until(lambda: set(q.by_id()) == {"bad"}, 20, 0.2, "the completed job retained away")
    assert q.job("bad")["state"] == "dead"
    assert "retention: deleted 1 finished job(s)" in worker.log()


def _loop(q, seconds, *args):
    """A shell loop in its own process running `queuectl ARGS` until the deadline; prints one
    line per run: the exit code, then what the command printed."""
    script = (f'end=$(( $(date +%s) + {seconds} )); while [ $(date +%s) -lt $end ]; do '
              f'out=$("{QUEUECTL}" "$@" 2>/dev/null); echo "$? $out" | tr "\\n" " "; echo; done')
    return subprocess.Popen(["sh", "-c", script, "loop", *args], env=q.env, cwd=q.tmp,
                            stdout=subprocess.PIPE, text=True)


def _make_dead(q, count, spread_ms):
    """`count` dead jobs, as a worker would have left them, whose last updates lie in the next
    `spread_ms` (j0 first): a purge loop then finds a few more old enough at every pass."""
    q.ok("enqueue", "--file", "-", input="".join(
        json.dumps({"id": f"j{n}", "command": "false", "max_retries": 0}) + "\n"
        for n in range(count)))
    start = int(time.time() * 1000) + 500  # after this one statement
    update = (f"UPDATE {{jobs}} SET state = 'dead', last_error = 'exit code 1', updated_at = "
              f"{start} + CAST(substr(id, 2) AS integer) * {spread_ms} / {count}")
    if q.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(q.db_file)) as conn, conn:
            conn.execute(update.format(jobs="jobs"))
    else:
        pg_query(update.format(jobs=f'"{pg_schema(q.db)}".jobs'))
    return start


async def _revive_as_they_come_due(db: str, start: int, count: int, spread_ms: int) -> set[str]:
    """`dlq retry` (the store verb, from this process) of the job becoming old enough right
    now, or a little later: the purge processes go for the same rows at the same moment."""
    from queuectl.errors import QueuectlError
    from queuectl.store import open_store

    store, revived = await open_store(db), set()
    leads = itertools.cycle([0, 5, 10, 20, 40])  # ms ahead of the purge
    try:
        while (now := time.time() * 1000) < start + spread_ms:
            n = int((now - start + next(leads)) * count / spread_ms)
            with contextlib.suppress(QueuectlError):  # already purged: the purge won that one
                revived.update(await store.retry_dead([f"j{min(count - 1, max(n, 0))}"],
                                                      now=int(now)))
    finally:
        await store.close()
    return revived


@pytest.mark.slow
def test_purge_racing_dlq_retry_never_deletes_a_revived_job(q):
    """No worker runs: a job `dlq retry` revived stays pending for good, so it must survive
    the purges racing it (two processes purging in a loop, each pass finding the jobs that
    just became old enough -- the very ones being revived); every other job must go."""
    count, spread_ms = 3000, 5000
    start = _make_dead(q, count, spread_ms)
    purgers = [_loop(q, 6, "purge", "--state", "dead") for _ in range(2)]
    revived = asyncio.run(_revive_as_they_come_due(q.db, start, count, spread_ms))
    deleted = sum(int(line.split()[1]) for p in purgers
                  for line in p.communicate(timeout=120)[0].splitlines() if line.startswith("0 "))
    q.ok("purge", "--state", "dead")
    left = q.by_id()
    assert set(left) == revived, f"{len(revived)} revived, {len(left)} left"
    assert all(job["state"] == "pending" for job in left.values())
    counts = q.json("status", "--json")["jobs"]
    assert counts["pending"] == counts["total"] == len(revived)
    assert revived and deleted, f"no race: {len(revived)} revived, {deleted} purged"


@pytest.mark.slow
def test_retention_racing_dlq_retry_never_deletes_a_job_that_must_run(q, workers):
    """Workers delete dead jobs after 1 s while another process keeps reviving them: each
    successful `dlq retry` must be followed by one more run of that job (a deleted pending
    job would never run again)."""
    runs = q.path("runs")
    runs.mkdir()
    ids = [f"j{n}" for n in range(12)]
    q.ok("enqueue", "--file", "-", input="".join(json.dumps(
        {"id": i, "command": f"echo . >> {runs}/{i}; exit 1", "max_retries": 0}) + "\n"
        for i in ids))
    q.config_set("keep-dead", 1)
    workers.start("--concurrency", "4")
    workers.start("--concurrency", "4")
    retried = dict.fromkeys(ids, 0)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        for job_id in ids:
            if q.run("dlq", "retry", job_id).returncode == 0:
                retried[job_id] += 1
    wait_until(lambda: not q.json("status", "--json")["jobs"]["pending"]
               and not q.json("status", "--json")["jobs"]["processing"], 30, 0.2, "quiet")
    ran = {i: len((runs / i).read_text().split()) for i in ids}
    assert ran == {i: retried[i] + 1 for i in ids}
    assert sum(retried.values()) > 0
