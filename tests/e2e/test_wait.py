"""`queuectl wait` and `enqueue --wait` through the installed executable (CLI.md "Scripting"):
exit 0 / 3 / 124 / 1, the summary line, the JSON document, and a wait that outlives a
SIGKILLed worker and its rescue."""

import json
import os
import signal
import subprocess
import time

import pytest

from .conftest import QUEUECTL, assert_error, wait_until


def start_wait(q, *args):
    return subprocess.Popen([QUEUECTL, "wait", *args], env=q.env, cwd=q.tmp, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_all_completed_is_exit_0_with_a_summary(q):
    q.ok("enqueue", "--file", "-", "--batch", "nightly",
         input='{"command": "true"}\n{"command": "echo hi"}\n')
    q.drain()
    cp = q.run("wait", "--batch", "nightly")
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, "", "2 completed, 0 dead\n")


def test_some_dead_is_exit_3_and_json_lists_every_job(q):
    ok = q.enqueue("true")
    bad = q.enqueue({"command": "exit 4", "max_retries": 0})
    q.drain()
    cp = q.run("wait", ok, bad, "--json")
    assert cp.returncode == 3 and cp.stderr == "1 completed, 1 dead\n"
    doc = json.loads(cp.stdout)
    assert (doc["completed"], doc["dead"], doc["unfinished"]) == (1, 1, 0)
    assert [j["id"] for j in doc["jobs"]] == [ok, bad]
    assert doc["jobs"][1]["state"] == "dead" and doc["jobs"][1]["exit_code"] == 4


def test_timeout_is_exit_124_and_waits_while_jobs_run(q, workers):
    slow = q.enqueue("sleep 30")
    started = time.monotonic()
    cp = q.run("wait", slow, "--timeout", "700ms", "--json")
    assert cp.returncode == 124 and 0.6 < time.monotonic() - started < 10
    assert json.loads(cp.stdout)["unfinished"] == 1
    assert cp.stderr == "0 completed, 0 dead, 1 unfinished (timed out)\n"


def test_wait_returns_soon_after_the_last_job_ends(q, workers):
    job_id = q.enqueue("sleep 1")
    waiter = start_wait(q, job_id)
    workers.start("--concurrency", "1")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and err == "1 completed, 0 dead\n"
    assert q.job(job_id)["state"] == "completed"


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["nope"], 1, "no job with id 'nope'"),
    (["--batch", "never-made"], 1, "no job in batch"),
    (["--timeout", "soon"], 2, "timeout"),
    (["--timeout", "-5"], 2, "timeout"),
    (["x", "--batch", "b"], 2, "not several"),
])
def test_bad_selections(q, args, code, fragment):
    assert_error(q.run("wait", *args), code, fragment)


def test_no_selection_waits_for_what_is_unfinished_now(q):
    q.enqueue("true")
    q.drain()
    later = q.enqueue("false", "--max-retries", "0", "--queue", "q2")  # the one unfinished
    for args in ([], ["--queue", "q2"]):
        cp = q.run("wait", "--timeout", "0.3", "--json", *args)
        assert cp.returncode == 124
        assert [j["id"] for j in json.loads(cp.stdout)["jobs"]] == [later]
    assert q.run("wait", "--queue", "other").stderr == "0 completed, 0 dead\n"
    q.drain()
    assert q.run("wait").returncode == 0  # nothing unfinished: nothing to wait for


def test_enqueue_wait_prints_ids_then_waits(q, workers):
    workers.start("--concurrency", "2")
    cp = q.run("enqueue", "--each", "test {} = ok", "--wait", input="ok\nbad\n")
    assert cp.returncode == 3 and len(cp.stdout.split()) == 2
    assert cp.stderr.endswith("1 completed, 1 dead\n")
    cp = q.run("enqueue", "true", "--wait", "--json")
    doc = json.loads(cp.stdout)  # one document: the wait's
    assert cp.returncode == 0 and doc["completed"] == 1 and doc["jobs"][0]["command"] == "true"
    cp = q.run("enqueue", "sleep 20", "--wait", "--wait-timeout", "0.3")
    assert cp.returncode == 124


def test_enqueue_wait_timeout_is_checked_before_enqueueing(q):
    assert_error(q.run("enqueue", "true", "--wait", "--wait-timeout", "later"), 2, "timeout")
    assert_error(q.run("enqueue", "true", "--wait-timeout", "5"), 2, "--wait")
    assert q.jobs() == []


@pytest.mark.slow
def test_wait_survives_a_sigkilled_worker_and_its_rescue(q, workers):
    q.config_set("worker-lease", 2)
    first = q.path("first-run")
    command = f"if [ -e {first} ]; then exit 0; fi; touch {first}; sleep 60"
    ids = [q.enqueue({"command": command, "max_retries": 2}), q.enqueue("true")]
    waiter = start_wait(q, *ids, "--json")
    victim = workers.start("--concurrency", "2")
    wait_until(first.exists, 15, message="first run")
    os.killpg(victim.pid, signal.SIGKILL)  # the job keeps running in its own session
    victim.wait(5)
    workers.start("--concurrency", "2")  # rescues the job and runs it again
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    doc = json.loads(out)
    assert (doc["completed"], doc["dead"]) == (2, 0)
    assert doc["jobs"][0]["attempts"] == 2
