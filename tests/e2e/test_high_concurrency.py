"""Many slots on a stock soft limit: the worker raises its descriptor limit for its slots,
refuses (exit 2, nothing claimed) when the hard limit cannot fit them, and hands back uncharged
the jobs it cannot start when the limit is lowered under it."""

from __future__ import annotations

import os
import resource
import subprocess

import pytest

from .conftest import QUEUECTL, Worker, assert_error, wait_until

NOFILE = resource.RLIMIT_NOFILE
HARD = resource.getrlimit(NOFILE)[1]

pytestmark = pytest.mark.skipif(
    HARD != resource.RLIM_INFINITY and HARD < 4096,
    reason=f"needs a hard descriptor limit of at least 4096 (it is {HARD})")


def sleeps(q, n: int, seconds: float, **fields) -> None:
    q.enqueue_many({"command": f"sleep {seconds}", **fields} for _ in range(n))


def worker_with_nofile(q, limit: tuple[int, int], *args: str, timeout: float = 120):
    """`queuectl worker start ARGS` with RLIMIT_NOFILE set to `limit` (soft, hard)."""
    return subprocess.run([QUEUECTL, "worker", "start", *args], env=q.env, cwd=q.tmp,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=lambda: resource.setrlimit(NOFILE, limit))


def assert_all_completed_at_the_first_attempt(q, n: int) -> None:
    jobs = q.jobs()
    assert len(jobs) == n
    assert {(j["state"], j["attempts"]) for j in jobs} == {("completed", 1)}
    assert q.json("dlq", "list", "--json") == []


def test_the_issues_600_slots_under_a_soft_limit_of_1024(q):
    """The issue's two commands, literally: every job completes at its first attempt."""
    sleeps(q, 600, 2)
    cp = subprocess.run(
        ["sh", "-c", 'ulimit -Sn 1024; exec "$0" worker start --concurrency 600 --drain',
         QUEUECTL], env=q.env, cwd=q.tmp, stdin=subprocess.DEVNULL, capture_output=True,
        text=True, timeout=180)
    assert cp.returncode == 0, cp.stderr[-2000:]
    assert "raised the open-file limit from 1024 to " in cp.stderr
    assert "could not start" not in cp.stderr
    assert_all_completed_at_the_first_attempt(q, 600)


def test_a_hard_limit_that_cannot_fit_the_slots_is_refused_before_claiming(q):
    sleeps(q, 3, 0)
    cp = worker_with_nofile(q, (256, 256), "--concurrency", "600", "--drain")
    assert_error(cp, 2, "concurrency 600 needs", "file descriptors", "hard limit is 256",
                 "ulimit -n", "at most")
    assert {(j["state"], j["attempts"]) for j in q.jobs()} == {("pending", 0)}
    assert q.json("worker", "list", "--json") == []


def test_the_soft_limit_is_raised_to_what_the_slots_need(q, workers):
    log_path = q.tmp / "worker-1024.log"
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(
            [QUEUECTL, "worker", "start", "--concurrency", "400"], env=q.env, cwd=q.tmp,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            start_new_session=True, preexec_fn=lambda: resource.setrlimit(NOFILE, (1024, HARD)))
    worker = Worker(proc, log_path)
    workers.started.append(worker)  # killed at teardown whatever happens
    workers.wait_registered(1)
    soft, hard = resource.prlimit(worker.pid, NOFILE)
    assert hard == HARD
    assert 3 * 400 < soft < 3 * 400 + 200, "raised for 400 slots, not to the hard limit"
    assert f"raised the open-file limit from 1024 to {soft} for 400 slots" in worker.log()


def test_a_limit_lowered_under_a_running_worker_costs_no_attempt(q, workers):
    """prlimit the worker's soft limit down to what about 4 running jobs need: the jobs it then
    cannot start go back to pending uncharged, and every one still completes at attempt 1."""
    worker = workers.start("--concurrency", "30")
    workers.wait_registered(1)
    in_use = len(os.listdir(f"/proc/{worker.pid}/fd"))
    resource.prlimit(worker.pid, NOFILE, (in_use + 8 + 3 * 4, HARD))
    sleeps(q, 40, 0.2, max_retries=0)

    def settled():
        return {(j["state"], j["attempts"]) for j in q.jobs()} == {("completed", 1)}

    wait_until(settled, 60, 0.2, "every job completed")
    assert "could not start" in worker.log()
    assert "back to pending without using an attempt" in worker.log()
    assert_all_completed_at_the_first_attempt(q, 40)
