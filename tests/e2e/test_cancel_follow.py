"""`queuectl cancel` and `queuectl logs --follow` through the installed executable, on both
backends: waiting and running jobs, bad input, and the races with real processes."""

import os
import signal
import subprocess
import threading
import time

import pytest

from .conftest import QUEUECTL, assert_error, event_lines, pid_gone, wait_until


def state_of(q, job_id):
    return q.job(job_id)["state"]


def run_cancel_wait(q, *args):
    return q.ok("cancel", *args, "--wait", timeout=30)


# -- waiting jobs ----------------------------------------------------------------------------


def test_waiting_jobs_go_dead_at_once_attempts_unchanged(q, workers):
    q.config_set("backoff-base", 1000)  # the failed attempt's retry waits long enough
    q.enqueue({"id": "flaky", "command": "exit 1", "max_retries": 3})
    workers.start()
    wait_until(lambda: state_of(q, "flaky") == "failed", 15, 0.1, "the first failure")
    q.enqueue({"id": "later", "command": "true", "delay": 3600})
    cp = q.ok("cancel", "flaky", "later")
    assert cp.stdout.splitlines() == ["flaky", "later"]
    jobs = q.by_id()
    assert [(jobs[i]["state"], jobs[i]["last_error"], jobs[i]["attempts"]) for i in
            ("flaky", "later")] == [("dead", "cancelled", 1), ("dead", "cancelled", 0)]
    assert jobs["flaky"]["next_retry_at"] is None
    status = q.json("status", "--json")
    assert (status["jobs"]["dead"], status["jobs"]["failed"], status["dlq"]) == (2, 0, 2)
    assert [j["id"] for j in q.json("dlq", "list", "--json")] == ["flaky", "later"]


def test_json_and_quiet_output(q):
    q.enqueue({"id": "a", "command": "true", "delay": 3600})
    q.enqueue({"id": "b", "command": "true", "delay": 3600})
    (doc,) = q.json("cancel", "a", "--json")
    assert (doc["id"], doc["state"], doc["last_error"]) == ("a", "dead", "cancelled")
    cp = q.ok("cancel", "-q", "b")
    assert cp.stdout == "" and state_of(q, "b") == "dead"


def test_cancel_a_batch_and_a_queue(q):
    for i in range(3):
        q.enqueue({"id": f"n{i}", "command": "true", "delay": 3600}, "--batch", "nightly")
    q.enqueue({"id": "other", "command": "true", "delay": 3600}, "--batch", "other")
    q.enqueue({"id": "inq", "command": "true", "delay": 3600}, "--queue", "slow")
    assert q.ok("cancel", "--batch", "nightly").stdout.split() == ["n0", "n1", "n2"]
    assert q.ok("cancel", "--queue", "slow").stdout.split() == ["inq"]
    assert state_of(q, "other") == "pending"
    cp = q.ok("cancel", "--batch", "nightly")  # nothing unfinished left in it
    assert cp.stdout == "" and cp.stderr.startswith("note: ")


@pytest.mark.parametrize("args, code, fragment", [
    (["cancel", "pending1", "nope"], 1, "no job with id 'nope'"),
    (["cancel", "pending1", "done"], 1, "already completed"),
    (["cancel"], 2, "exactly one"),
    (["cancel", "pending1", "--batch", "b"], 2, "exactly one"),
    (["cancel", "--batch", "bad name"], 2, "--batch"),
    (["cancel", "--queue", "x" * 65], 2, "--queue"),
])
def test_bad_input_changes_nothing(q, args, code, fragment):
    q.enqueue({"id": "done", "command": "true"})
    q.drain()
    q.enqueue({"id": "pending1", "command": "true", "delay": 3600})
    assert_error(q.run(*args), code, fragment)
    assert state_of(q, "pending1") == "pending"


# -- running jobs -------------------------------------------------------------------------


def test_a_running_job_is_killed_within_2s_and_dlq_retry_brings_it_back(q, workers):
    pidfile, again = q.path("pid"), q.path("again")
    command = (f"if [ -e {again} ]; then echo second run; exit 0; fi; "
               f"echo first run; echo $$ > {pidfile}; sleep 60 & wait")
    q.enqueue({"id": "long", "command": command, "max_retries": 5})
    w = workers.start("--concurrency", "2")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 15, message="job start")
    pid = int(pidfile.read_text())
    t0 = time.monotonic()
    cp = run_cancel_wait(q, "long")
    assert cp.stdout.split() == ["long"]
    wait_until(lambda: pid_gone(pid), 5, 0.02, "the job's shell to die")
    assert time.monotonic() - t0 < 2 + 2  # delivered within 2 s, then TERM ends `sleep`'s parent
    job = q.job("long")
    assert (job["state"], job["last_error"], job["attempts"]) == ("dead", "cancelled", 1)
    assert [h["error"] for h in job["history"]] == ["cancelled"]
    assert q.run("logs", "long").stdout == "first run\n"
    assert len(event_lines(w.log(), "cancel", "long")) >= 1

    again.touch()
    q.ok("dlq", "retry", "long")
    wait_until(lambda: state_of(q, "long") == "completed", 15, 0.1, "the retried run")
    assert [h["error"] for h in q.job("long")["history"]] == ["cancelled", None]


@pytest.mark.slow
def test_cancel_racing_the_jobs_own_completion_ends_in_exactly_one(q, workers):
    """Each job ends by itself about when the cancel lands: whichever wins, the job is either
    completed (its attempt exit 0) or dead (its attempt cancelled), never run again."""
    ids = [f"r{i}" for i in range(6)]
    for i, job_id in enumerate(ids):
        q.enqueue({"id": job_id, "max_retries": 3,
                   "command": f"touch {q.path(job_id)}; sleep 0.{3 + i % 3}"})
    workers.start("--concurrency", "6")
    wait_until(lambda: all(q.path(j).exists() for j in ids), 15, 0.02, "every job started")
    time.sleep(0.3)  # the jobs end 0.3-0.5 s after they started: the cancels land among them
    for job_id in ids:
        cp = q.run("cancel", job_id)
        assert cp.returncode in (0, 1), cp.stderr  # 1: it had already completed
    outcomes = set()
    for job_id in ids:
        job = wait_until(lambda j=job_id: (d := q.job(j))["state"] in ("completed", "dead") and d,
                         15, 0.1, f"{job_id} to finish")
        (attempt,) = job["history"]  # never retried
        if job["state"] == "completed":
            assert (attempt["exit_code"], attempt["error"]) == (0, None)
        else:
            assert (job["last_error"], attempt["error"]) == ("cancelled", "cancelled")
        outcomes.add(job["state"])
    print(f"outcomes: {sorted(outcomes)}")
    time.sleep(0.5)
    assert all(len(q.job(j)["history"]) == 1 for j in ids)


@pytest.mark.slow
def test_cancel_while_its_worker_is_sigkilled_never_runs_it_again(q, workers):
    runs, pidfile = q.path("runs"), q.path("pid")
    q.enqueue({"id": "victim", "max_retries": 5,
               "command": f"echo run >> {runs}; echo $$ > {pidfile}; sleep 60"})
    doomed = workers.start("--concurrency", "1")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 15, message="job start")
    job_pid = int(pidfile.read_text())
    rescuer = workers.start("--concurrency", "1")
    workers.wait_registered(2)
    killer = threading.Thread(target=os.killpg, args=(doomed.pid, signal.SIGKILL))
    killer.start()
    cancel = q.run("cancel", "victim")
    killer.join()
    assert cancel.returncode == 0, cancel.stderr
    job = wait_until(lambda: (d := q.job("victim"))["state"] == "dead" and d, 20, 0.1,
                     "the job to end dead")
    assert job["last_error"] == "cancelled"
    wait_until(lambda: pid_gone(job_pid), 5, 0.05, "the orphaned command to be killed")
    time.sleep(1.5)  # a rerun would have started by now (the rescuer claims at once)
    assert runs.read_text() == "run\n"
    assert q.job("victim")["state"] == "dead"
    assert rescuer.alive()


# -- logs --follow ----------------------------------------------------------------------------


def test_follow_prints_the_next_attempt_as_it_is_written_and_exits_when_it_ends(q, workers):
    go = q.path("go")
    q.enqueue({"id": "talk", "command": f"echo one; echo oops >&2; "
                                        f"while [ ! -e {go} ]; do sleep 0.02; done; echo two"})
    follower = subprocess.Popen([QUEUECTL, "logs", "talk", "--follow"], env=q.env, cwd=q.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        workers.start()
        first = follower.stdout.readline()  # arrives while the job still waits for `go`
        assert first == b"one\n"
        assert state_of(q, "talk") == "processing"
        go.touch()
        out, err = follower.communicate(timeout=20)
    finally:
        follower.kill()
    assert follower.returncode == 0
    assert (first + out, err) == (b"one\ntwo\n", b"oops\n")
    assert q.run("logs", "talk").stdout == "one\ntwo\n"


def test_follow_of_a_finished_job_prints_its_output(q):
    q.enqueue({"id": "done", "command": "echo hello; echo warn >&2"})
    q.drain()
    cp = q.ok("logs", "-f", "done")
    assert (cp.stdout, cp.stderr) == ("hello\n", "warn\n")


def test_follow_errors(q):
    q.enqueue({"id": "later", "command": "true", "delay": 3600})
    assert_error(q.run("logs", "nope", "--follow"), 1, "no job with id")
    assert_error(q.run("logs", "later", "--follow", "--attempt", "1"), 2, "--attempt")
    follower = subprocess.Popen([QUEUECTL, "logs", "later", "-f"], env=q.env, cwd=q.tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        q.ok("cancel", "later")
        out, err = follower.communicate(timeout=20)
    finally:
        follower.kill()
    assert (follower.returncode, out) == (1, "")
    assert err.startswith("error: ") and "cancelled" in err
