"""Worker processes: graceful and hard stop, SIGKILL recovery, two workers sharing a store."""

import json
import os
import re
import signal
import time
from collections import Counter

import pytest

from .conftest import event_lines, pid_gone, wait_until


def test_drain_on_empty_store_exits_0(q):
    cp = q.drain()
    assert cp.stdout == ""


def test_worker_stop_without_workers_exits_0_and_says_so(q):
    cp = q.ok("worker", "stop", "--timeout", "1")
    assert (cp.stdout + cp.stderr).strip()


@pytest.fixture
def two_jobs(q):
    """`first` (runs ~1 s, touches markers) then `second` (touches its marker)."""
    m = {name: q.path(name) for name in ("first-started", "first-done", "second-ran")}
    q.enqueue({"id": "first",
               "command": f"touch {m['first-started']}; sleep 1; touch {m['first-done']}"})
    q.enqueue({"id": "second", "command": f"touch {m['second-ran']}"})
    return m


@pytest.mark.slow
@pytest.mark.parametrize("how", ["worker stop", "SIGTERM", "SIGINT"])
def test_graceful_stop_finishes_the_running_job_and_starts_no_other(q, workers, two_jobs, how):
    w = workers.start("--concurrency", "1")
    wait_until(two_jobs["first-started"].exists, 15, message="first job to start")
    if how == "worker stop":
        cp = q.ok("worker", "stop", "--timeout", "20")
        assert (cp.stdout + cp.stderr).strip()  # says what happened
        # `worker stop` waited for the worker to exit (allow for the process teardown)
        wait_until(lambda: not w.alive(), 3, message="worker process to exit")
    else:
        w.signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
    assert w.wait(20) == 0, w.log()
    assert two_jobs["first-done"].exists()
    assert not two_jobs["second-ran"].exists()
    first, second = q.job("first"), q.job("second")
    assert (first["state"], first["attempts"]) == ("completed", 1)
    assert (second["state"], second["attempts"]) == ("pending", 0)
    assert second["history"] == []
    assert q.json("worker", "list", "--json") == []
    assert "Traceback" not in w.log()


@pytest.mark.slow
def test_worker_stop_gives_up_waiting_after_its_timeout(q, workers):
    started = q.path("started")
    q.enqueue({"id": "long", "command": f"touch {started}; sleep 30"})
    w = workers.start("--concurrency", "1")
    wait_until(started.exists, 15, message="job to start")
    t0 = time.monotonic()
    cp = q.run("worker", "stop", "--timeout", "1")
    assert time.monotonic() - t0 < 10
    # the contract is silent on the exit code when workers outlive the wait (0 or 1)
    assert cp.returncode in (0, 1), cp
    assert "Traceback" not in cp.stderr
    assert (cp.stdout + cp.stderr).strip()
    assert w.alive(), "a graceful stop lets the running job finish"
    assert q.job("long")["state"] == "processing"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_kills_the_job_and_requeues_it_without_an_attempt(q, workers, sig):
    pidfile = q.path("job.pid")
    # the first run records its pid and hangs; a later run succeeds at once
    command = f"if [ -e {pidfile} ]; then exit 0; fi; echo $$ > {pidfile}; sleep 30"
    q.enqueue({"id": "long", "command": command})
    w = workers.start("--concurrency", "1")
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 15,
               message="job to start")
    job_pid = int(pidfile.read_text())
    assert q.job("long")["attempts"] == 1
    w.signal(sig)
    # two signals in a row may coalesce: wait until the worker has handled the first one
    wait_until(lambda: "stopping" in w.log().lower(), 10, message="the soft stop's log line")
    assert w.alive(), "the first signal must wait for the running job"
    w.signal(sig)
    assert w.wait(20) == 128 + sig, w.log()
    wait_until(lambda: pid_gone(job_pid), 5, message="the job's process to die")
    job = q.job("long")
    assert (job["state"], job["attempts"]) == ("pending", 0)
    assert len(event_lines(w.log(), "requeued", "long")) == 1

    q.drain()  # runs again; the interrupted run was not charged
    job = q.job("long")
    assert (job["state"], job["attempts"]) == ("completed", 1)


@pytest.mark.slow
@pytest.mark.parametrize("rescuer", ["running", "started-later"])
def test_sigkilled_worker_job_is_recovered_at_default_settings(q, workers, rescuer):
    first, second = q.path("first-run"), q.path("second-run")
    command = (f"if [ -e {first} ]; then touch {second}; exit 0; fi; "
               f"touch {first}; sleep 60")
    q.enqueue({"id": "victim", "command": command})
    a = workers.start("--concurrency", "1")
    wait_until(first.exists, 15, message="first run")
    if rescuer == "running":
        b = workers.start("--concurrency", "1")
        workers.wait_registered(2)
    os.killpg(a.pid, signal.SIGKILL)  # the worker's group only: the job runs in its own session
    killed_at = time.monotonic()
    a.wait(5)
    if rescuer == "started-later":
        b = workers.start("--concurrency", "1")
    while not second.exists() and time.monotonic() - killed_at < 16:
        time.sleep(0.02)
    recovery = time.monotonic() - killed_at
    assert second.exists(), f"not running again after {recovery:.1f} s\nrescuer log:\n{b.log()}"
    print(f"SIGKILL -> job running again ({rescuer} rescuer): {recovery:.2f} s")
    assert recovery < 15, f"recovered after {recovery:.1f} s; the contract says 15 s"

    job = wait_until(lambda: (j := q.job("victim"))["state"] == "completed" and j, 10, 0.1,
                     "completion")
    assert job["attempts"] == 2  # the crashed attempt counts
    assert [h["attempt"] for h in job["history"]] == [1, 2]
    assert "worker lost" in job["history"][0]["error"]
    assert job["history"][1]["exit_code"] == 0
    wait_until(lambda: event_lines(b.log(), "rescued", "victim"), 5, message="rescued log line")
    listed = q.json("worker", "list", "--json")
    assert [x["pid"] for x in listed] == [b.pid]  # the dead worker is gone from the list


@pytest.mark.slow
def test_job_that_kills_its_worker_every_time_ends_in_the_dlq(q):
    q.config_set("backoff-base", 1)
    q.enqueue({"id": "killer", "command": "kill -9 $PPID; sleep 30", "max_retries": 1})
    outcomes, logs = [], []
    for _ in range(4):
        cp = q.run("worker", "start", "--concurrency", "1", "--drain", timeout=60)
        outcomes.append(cp.returncode)
        logs.append(cp.stderr)
        if cp.returncode == 0:
            break
    assert outcomes == [-signal.SIGKILL, -signal.SIGKILL, 0], "\n".join(logs)
    job = q.job("killer")
    assert (job["state"], job["attempts"]) == ("dead", 2)
    assert job["last_error"] == "worker lost"
    assert [h["error"] for h in job["history"]] == ["worker lost", "worker lost"]


@pytest.mark.slow
def test_200_jobs_on_two_workers_run_exactly_once(q, workers):
    out = q.path("ran")
    a = workers.start("--concurrency", "4")
    b = workers.start("--concurrency", "4")
    workers.wait_registered(2)
    ids = [f"job{n:03d}" for n in range(200)]
    text = "".join(json.dumps({"id": i, "command": f"echo {i} >> {out}; sleep 0.01"}) + "\n"
                   for i in ids)
    q.ok("enqueue", "--file", "-", input=text)

    def done():
        status = q.json("status", "--json")["jobs"]
        return status["completed"] + status["dead"] + status["failed"] == 200
    wait_until(done, 90, 0.5, "200 jobs to finish")
    q.ok("worker", "stop", "--timeout", "20")
    assert a.wait(20) == 0 and b.wait(20) == 0

    ran = Counter(out.read_text().split())
    assert set(ran) == set(ids)
    assert [i for i, n in ran.items() if n != 1] == []
    jobs = q.jobs()
    assert len(jobs) == 200
    assert {j["state"] for j in jobs} == {"completed"}
    assert {j["attempts"] for j in jobs} == {1}
    share = [sum("started" in line.lower() and re.search(r"\bjob\d{3}\b", line) is not None
                 for line in w.log().splitlines()) for w in (a, b)]
    print(f"jobs started per worker: {share}")
    assert sum(share) == 200


@pytest.mark.parametrize("flag", ["--count", "--concurrency"])
def test_count_runs_jobs_side_by_side(q, flag):
    """Each job waits (up to 5 s) for the other to start: only two slots let both succeed."""
    a, b = q.path("a-started"), q.path("b-started")

    def waits_for(mine, other):
        return (f"touch {mine}; i=0; while [ ! -e {other} ]; do i=$((i+1)); "
                f"[ $i -gt 50 ] && exit 1; sleep 0.1; done")
    q.enqueue({"id": "a", "command": waits_for(a, b), "max_retries": 0})
    q.enqueue({"id": "b", "command": waits_for(b, a), "max_retries": 0})
    cp = q.run("worker", "start", flag, "2", "--drain", timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert [j["state"] for j in q.jobs()] == ["completed", "completed"]
