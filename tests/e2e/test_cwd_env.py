"""A job runs in its `cwd` with its `env` added (CLI.md "More job fields"), through the
installed executable: the default directory, --cwd, --env, a missing directory, and a job
from before Part 2 (no cwd stored) that runs where the worker runs."""

import contextlib
import sqlite3
import subprocess

from .conftest import QUEUECTL, pg_query, pg_schema


def test_a_job_runs_where_it_was_enqueued(q):
    here = q.tmp / "project"
    here.mkdir()
    job_id = q.enqueue("pwd", "--cwd", str(here))
    default_id = q.enqueue("pwd")  # the enqueuing process's directory: q.tmp
    q.drain()
    assert q.ok("logs", job_id).stdout == f"{here}\n"
    assert q.ok("logs", default_id).stdout == f"{q.tmp}\n"


def test_env_is_added_and_nothing_else_of_the_enqueuer_is_kept(q):
    env = dict(q.env, SECRET_OF_ENQUEUER="leak")
    cp = q.ok("enqueue", 'printf "%s|%s|%s" "$A" "$B" "${SECRET_OF_ENQUEUER-unset}"',
              "--env", "A=1 2", "--env", "B=héllo", env=env)
    job_id = cp.stdout.strip()
    q.drain()
    assert q.ok("logs", job_id).stdout == "1 2|héllo|unset"
    assert q.job(job_id)["env"] == {"A": "1 2", "B": "héllo"}


def test_a_missing_directory_is_a_failed_attempt(q):
    gone = q.tmp / "gone"
    gone.mkdir()
    marker = q.tmp / "ran"
    job_id = q.enqueue({"command": f"touch {marker}", "max_retries": 0, "cwd": str(gone)})
    gone.rmdir()
    q.drain()
    job = q.job(job_id)
    assert job["state"] == "dead" and job["attempts"] == 1
    assert job["last_error"] == f"cwd not found: {gone}"
    assert job["history"][0]["error"] == f"cwd not found: {gone}"
    assert not marker.exists()


def test_a_job_from_before_part2_runs_where_the_worker_runs(q):
    job_id = q.enqueue("pwd")
    if q.backend == "sqlite":
        with contextlib.closing(sqlite3.connect(q.db_file)) as conn, conn:
            conn.execute("UPDATE jobs SET cwd = NULL, batch = NULL WHERE id = ?", (job_id,))
    else:
        pg_query(f'UPDATE "{pg_schema(q.db)}".jobs SET cwd = NULL, batch = NULL WHERE id = $1',
                 job_id)
    worker_dir = q.tmp / "worker-here"
    worker_dir.mkdir()
    subprocess.run([QUEUECTL, "worker", "start", "--drain"], env=q.env, cwd=worker_dir,
                   capture_output=True, timeout=60, check=True)
    assert q.job(job_id)["cwd"] is None
    assert q.ok("logs", job_id).stdout == f"{worker_dir}\n"
