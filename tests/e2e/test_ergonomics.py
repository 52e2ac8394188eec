"""What users of other job-queue CLIs type (issue 15): short flags, -q, durations, friendly
--run-at, slot counts, `worker stop`'s one line, `logs --all`, worker log order."""

import re
import time

import pytest

from .conftest import assert_error, ts, wait_until

# --------------------------------------------------------------------------- enqueue


def test_short_flags_set_the_same_fields_as_the_long_ones(q):
    job_id = q.enqueue("true", "-i", "short", "-p", "5", "-m", "2", "-t", "30",
                       "-r", "2030-12-24T18:00:00Z")
    assert job_id == "short"
    job = q.job("short")
    assert (job["priority"], job["max_retries"], job["timeout"]) == (5, 2, 30)
    assert job["run_at"] == "2030-12-24T18:00:00.000Z"
    delayed = q.json("enqueue", "-d", "90", "--json", "true")  # counted from the parse, not
    assert ts(delayed["run_at"]) - ts(delayed["created_at"]) == pytest.approx(90, abs=1)  # insert


def test_enqueue_help_lists_the_short_flags_and_a_duration(q):
    text = q.ok("enqueue", "--help").stdout
    for form in ("-p", "-r", "-d", "-t", "-m", "-i", "-q", "--quiet"):
        assert re.search(rf"(?<![\w-]){form}(?![\w-])", text), form
    assert "1h30m" in text


def test_durations_on_delay_and_timeout(q):
    job = q.json("enqueue", "--json", "--delay", "5m", "--timeout", "1h30m", "true")
    assert ts(job["run_at"]) - ts(job["created_at"]) == pytest.approx(300, abs=1)
    assert job["timeout"] == 5400
    short = q.json("enqueue", "--json", "-t", "500ms", "true")
    assert short["timeout"] == 0.5


@pytest.mark.parametrize(("args", "flag"), [
    (["enqueue", "-d", "5x", "true"], "--delay"),
    (["enqueue", "--timeout", "soon", "true"], "--timeout"),
    (["enqueue", "-t", "-1m", "true"], "--timeout"),
    (["enqueue", "-r", "soon", "true"], "--run-at"),
    (["enqueue", "-r", "25:00", "true"], "--run-at"),
    (["worker", "stop", "--timeout", "a while"], "--timeout"),
    (["enqueue", "-q", "--json", "true"], "--quiet"),
])
def test_a_bad_value_is_exit_2_naming_the_flag(q, args, flag):
    assert_error(q.run(*args), 2, flag)
    assert q.jobs() == []


def test_quiet_prints_nothing_and_still_enqueues(q):
    cp = q.ok("enqueue", "-q", "-i", "silent", "true")
    assert cp.stdout == ""
    assert q.by_id()["silent"]["state"] == "pending"
    cp = q.ok("enqueue", "--quiet", "--file", "-", input='{"command": "true"}\n' * 3)
    assert cp.stdout == "" and len(q.jobs()) == 4


def test_quiet_dlq_retry(q):
    q.enqueue({"id": "d", "command": "exit 1", "max_retries": 0})
    q.drain()
    cp = q.ok("dlq", "retry", "-q", "d")
    assert cp.stdout == ""
    assert q.job("d")["state"] == "pending"


@pytest.mark.parametrize(("zone", "expected"), [("UTC", "23:30"), ("Asia/Kolkata", "18:00")])
def test_run_at_a_time_of_day_is_its_next_occurrence_in_the_local_zone(q, zone, expected):
    for form in ("23:30", "11:30pm"):
        job = q.json("enqueue", "--json", "-r", form, "true", env={**q.env, "TZ": zone})
        assert job["run_at"].endswith(f"T{expected}:00.000Z"), job["run_at"]
        assert 0 < ts(job["run_at"]) - time.time() <= 86_400


def test_run_at_plus_a_duration_is_from_now(q):
    before = time.time()
    job = q.json("enqueue", "--json", "--run-at", "+15m", "true")
    assert before + 900 - 1 <= ts(job["run_at"]) <= time.time() + 900 + 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", job["run_at"])


# --------------------------------------------------------------------------- config


def test_time_valued_config_keys_take_durations(q):
    assert q.ok("config", "set", "backoff-max", "2h").stdout == "backoff-max=7200\n"
    assert q.ok("config", "get", "backoff-max").stdout == "7200\n"
    q.ok("config", "set", "job-timeout", "1m30s")
    q.ok("config", "set", "kill-grace", "500ms")
    q.ok("config", "set", "worker-lease", "1m")
    conf = q.json("config", "list", "--json")
    assert (conf["job-timeout"], conf["kill-grace"], conf["worker-lease"]) == (90, 0.5, 60)
    assert_error(q.run("config", "set", "backoff-max", "forever"), 2, "backoff-max")
    assert_error(q.run("config", "set", "max-retries", "5m"), 2, "max-retries")
    assert q.ok("config", "get", "backoff-max").stdout == "7200\n"


# --------------------------------------------------------------------------- workers


@pytest.fixture
def hold(q):
    """A command that runs until its gate file is removed, and the gate."""
    gate = q.path("gate")
    gate.touch()
    return f"while [ -e {gate} ]; do sleep 0.05; done", gate


@pytest.mark.slow
def test_status_counts_processes_slots_and_running_jobs(q, workers, hold):
    command, gate = hold
    for n in range(2):
        q.enqueue({"id": f"hold{n}", "command": command})
    workers.start("--concurrency", "3")
    workers.start("-c", "2")
    workers.wait_registered(2)

    def running_two():
        doc = q.json("status", "--json")
        return doc if doc["running"] == 2 else None
    doc = wait_until(running_two, 20, 0.2, "status to show both jobs running")
    assert doc["slots"] == 5 and len(doc["workers"]) == 2  # the old fields stay
    assert sum(w["concurrency"] for w in doc["workers"]) == 5
    assert "workers: 2 processes, 5 slots, 2 running" in q.ok("status").stdout
    gate.unlink()


def test_status_text_without_workers(q):
    assert "workers: 0 processes, 0 slots, 0 running" in q.ok("status").stdout
    doc = q.json("status", "--json")
    assert (doc["slots"], doc["running"]) == (0, 0)


def test_worker_stop_without_workers_says_so_in_one_line(q):
    assert q.ok("worker", "stop").stdout == "no worker was running\n"
    assert q.json("worker", "stop", "--json") == []


@pytest.mark.slow
@pytest.mark.parametrize("json_out", [False, True], ids=["text", "json"])
def test_worker_stop_says_how_many_it_stopped(q, workers, json_out):
    started = [workers.start("--concurrency", "1") for _ in range(2)]
    registered = {w["id"] for w in workers.wait_registered(2)}
    if json_out:
        stopped = q.json("worker", "stop", "--timeout", "20s", "--json")
        assert {w["id"] for w in stopped} == registered
        assert all(w["concurrency"] == 1 for w in stopped)
    else:
        assert q.ok("worker", "stop", "--timeout", "20s").stdout == "2 workers stopped\n"
    assert all(w.wait(20) == 0 for w in started)


@pytest.mark.slow
def test_worker_stop_that_times_out_is_exit_1_naming_the_worker(q, workers, hold):
    command, gate = hold
    q.enqueue({"id": "held", "command": command})
    workers.start("--concurrency", "1")
    [worker] = workers.wait_registered(1)
    cp = q.run("worker", "stop", "--timeout", "500ms")
    assert cp.returncode == 1, cp
    assert cp.stdout == "0 workers stopped\n"
    assert cp.stderr == f"error: 1 worker still running after 0.5s: {worker['id']}\n"
    gate.unlink()


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["completed", "dead"])
def test_with_one_slot_an_outcome_is_logged_before_the_next_start(q, outcome):
    command = "true" if outcome == "completed" else "exit 4"
    q.enqueue({"id": "A", "command": command, "priority": 9, "max_retries": 0})
    q.enqueue({"id": "B", "command": "true"})
    log = q.drain(concurrency=1).stderr
    events = [line.split()[1:3] for line in log.splitlines() if len(line.split()) > 2]
    assert events.index([outcome, "A"]) < events.index(["started", "B"]), log


# --------------------------------------------------------------------------- logs --all


def test_logs_all_prints_every_attempt_under_a_header(q):
    counter = q.path("n")
    script = (f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
              "echo out $n; echo err $n >&2; [ $n -ge 3 ]")
    q.enqueue({"id": "thrice", "command": script, "max_retries": 2})
    q.ok("config", "set", "backoff-base", "1")  # 1 s between attempts
    q.drain()
    cp = q.ok("logs", "thrice", "--all")
    lines = cp.stdout.splitlines()
    headers = [line for line in lines if line.startswith("--- ")]
    assert len(headers) == 3
    assert re.fullmatch(r"--- attempt 1 \(exit 1, \d+\.\d{3}s\) ---", headers[0]), headers
    assert re.fullmatch(r"--- attempt 3 \(exit 0, \d+\.\d{3}s\) ---", headers[2]), headers
    assert lines == [headers[0], "out 1", headers[1], "out 2", headers[2], "out 3"]
    assert cp.stderr == "err 1\nerr 2\nerr 3\n"


def test_logs_all_names_the_error_when_it_says_more_than_the_exit_code(q):
    q.enqueue({"id": "slow", "command": "sleep 5", "timeout": 0.2, "max_retries": 0})
    q.drain()
    header = q.ok("logs", "slow", "--all").stdout.splitlines()[0]
    assert re.fullmatch(r"--- attempt 1 \(no exit code, timed out after 0\.2s, \d+\.\d{3}s\) ---",
                        header), header


def test_logs_all_errors(q):
    q.enqueue({"id": "waiting", "command": "true"})
    assert_error(q.run("logs", "waiting", "--all"), 1, "no finished attempt")
    assert_error(q.run("logs", "nosuch", "--all"), 1, "nosuch")
    assert_error(q.run("logs", "waiting", "--all", "--attempt", "1"), 2, "--all")
