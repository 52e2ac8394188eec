"""Running jobs: outcomes, attempt history, logs, retries with backoff, DLQ, timeouts, order."""

import re
import time

import pytest

from .conftest import HISTORY_FIELDS, TIMESTAMP, event_lines, pid_gone, rss_kib, ts, wait_until

MARKER = re.compile(rb"\[queuectl: (\d+) bytes truncated\]")


def test_success_records_history_and_output(q):
    q.enqueue({"id": "hello", "command": "echo out; echo err >&2"})
    q.drain()
    job = q.job("hello")
    assert job["state"] == "completed"
    assert job["attempts"] == 1
    assert job["exit_code"] == 0
    assert job["last_error"] is None
    assert job["next_retry_at"] is None
    [run] = job["history"]
    for key in HISTORY_FIELDS:
        assert key in run, key
    assert run["attempt"] == 1
    assert isinstance(run["worker"], str) and run["worker"]
    assert TIMESTAMP.match(run["started_at"]) and TIMESTAMP.match(run["finished_at"])
    assert ts(run["started_at"]) <= ts(run["finished_at"])
    assert run["exit_code"] == 0 and run["error"] is None
    assert isinstance(run["duration"], int | float) and 0 <= run["duration"] < 10
    [listed] = q.jobs()  # show --json is the job object of list --json, plus history
    assert {k: job[k] for k in listed} == listed

    cp = q.run("logs", "hello", binary=True)
    assert cp.returncode == 0
    assert cp.stdout == b"out\n"
    assert cp.stderr == b"err\n"
    cp = q.run("logs", "hello", "--attempt", "1", binary=True)
    assert (cp.returncode, cp.stdout, cp.stderr) == (0, b"out\n", b"err\n")


def test_failure_kinds_are_failed_attempts(q):
    q.enqueue({"id": "exit3", "command": "exit 3", "max_retries": 0})
    q.enqueue({"id": "nocmd", "command": "definitely-not-a-command-4711", "max_retries": 0})
    q.enqueue({"id": "signal", "command": "kill -9 $$", "max_retries": 0})
    q.drain(concurrency=3)
    exit3 = q.job("exit3")
    assert (exit3["state"], exit3["attempts"], exit3["exit_code"]) == ("dead", 1, 3)
    assert exit3["last_error"] == "exit code 3"
    assert exit3["history"][0]["error"] == "exit code 3"
    jobs = q.by_id()
    nocmd = jobs["nocmd"]
    assert (nocmd["state"], nocmd["exit_code"]) == ("dead", 127)
    signalled = jobs["signal"]
    assert signalled["state"] == "dead"
    assert signalled["last_error"]


def test_worker_logs_one_line_per_job_event(q):
    q.config_set("backoff-base", 1)
    q.enqueue({"id": "good", "command": "true"})
    q.enqueue({"id": "flaky", "command": "exit 1", "max_retries": 1})
    log = q.drain().stderr
    assert len(event_lines(log, "started", "good")) == 1
    assert len(event_lines(log, "completed", "good")) == 1
    assert len(event_lines(log, "started", "flaky")) == 2
    assert len(event_lines(log, "failed", "flaky")) >= 1
    assert len(event_lines(log, "dead", "flaky")) == 1


def test_retry_then_success_keeps_output_per_attempt(q):
    q.config_set("backoff-base", 1)  # waits of 1 s
    marker = q.path("second-time")
    command = f"if [ -e {marker} ]; then echo two; else touch {marker}; echo one; exit 1; fi"
    q.enqueue({"id": "flaky", "command": command, "max_retries": 1})
    q.drain()
    job = q.job("flaky")
    assert (job["state"], job["attempts"], job["exit_code"]) == ("completed", 2, 0)
    assert job["last_error"] is None
    assert [h["attempt"] for h in job["history"]] == [1, 2]
    assert [h["exit_code"] for h in job["history"]] == [1, 0]
    assert [h["error"] for h in job["history"]] == ["exit code 1", None]
    assert q.run("logs", "flaky", "--attempt", "1", binary=True).stdout == b"one\n"
    assert q.run("logs", "flaky", "--attempt", "2", binary=True).stdout == b"two\n"
    assert q.run("logs", "flaky", binary=True).stdout == b"two\n"  # default: the latest


@pytest.mark.slow
def test_backoff_gaps_of_2_and_4_seconds_then_dead(q, workers):
    q.enqueue({"id": "always", "command": "exit 1", "max_retries": 2})
    w = workers.start("--concurrency", "1", "--drain")
    failed = wait_until(lambda: (j := q.job("always"))["state"] == "failed" and j, 10, 0.1,
                        "first failure")
    assert failed["attempts"] == 1
    assert failed["next_retry_at"] == failed["run_at"]
    assert failed["last_error"] == "exit code 1"
    assert 1.4 <= ts(failed["next_retry_at"]) - ts(failed["history"][0]["finished_at"]) <= 2.6
    assert w.wait(30) == 0
    job = q.job("always")
    assert (job["state"], job["attempts"], job["next_retry_at"]) == ("dead", 3, None)
    starts = [ts(h["started_at"]) for h in job["history"]]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    print(f"backoff gaps: {[round(g, 3) for g in gaps]}")
    assert len(gaps) == 2
    assert gaps[0] == pytest.approx(2, abs=0.6)
    assert gaps[1] == pytest.approx(4, abs=0.6)
    assert len(event_lines(w.log(), "dead", "always")) == 1


def test_backoff_max_caps_the_wait(q):
    q.config_set("backoff-base", 100)
    q.config_set("backoff-max", 1)
    q.enqueue({"id": "capped", "command": "exit 1", "max_retries": 1})
    q.drain(timeout=30)
    starts = [ts(h["started_at"]) for h in q.job("capped")["history"]]
    assert len(starts) == 2
    assert starts[1] - starts[0] == pytest.approx(1, abs=0.6)


def test_dlq_list_and_retry_resets_attempts_and_keeps_history(q):
    q.enqueue({"id": "doomed", "command": "echo try; exit 2", "max_retries": 0})
    q.enqueue({"id": "fine", "command": "true"})
    q.drain()
    dlq = q.json("dlq", "list", "--json")
    assert [j["id"] for j in dlq] == ["doomed"]
    assert dlq[0]["state"] == "dead" and dlq[0]["attempts"] == 1

    assert q.ok("dlq", "retry", "doomed").stdout.splitlines() == ["doomed"]
    job = q.job("doomed")
    assert (job["state"], job["attempts"]) == ("pending", 0)
    assert len(job["history"]) == 1
    assert q.json("dlq", "list", "--json") == []
    assert q.json("status", "--json")["dlq"] == 0

    log = q.drain().stderr
    job = q.job("doomed")
    assert (job["state"], job["attempts"]) == ("dead", 1)
    assert [h["attempt"] for h in job["history"]] == [1, 2]  # numbering continues
    assert q.run("logs", "doomed", "--attempt", "1", binary=True).stdout == b"try\n"
    # the worker log numbers the run as `show` and `logs --attempt` do: 2, not attempts (1)
    for event in ("started", "dead"):
        (line,) = event_lines(log, event, "doomed")
        assert " attempt 2" in line, line
    assert q.run("logs", "doomed", "--attempt", "2", binary=True).stdout == b"try\n"


def test_dlq_retry_all(q):
    for n in range(3):
        q.enqueue({"id": f"d{n}", "command": "false", "max_retries": 0})
    q.drain(concurrency=3)
    assert len(q.json("dlq", "list", "--json")) == 3
    assert q.ok("dlq", "retry", "d1", "d1").stdout.splitlines() == ["d1"]  # once each
    retried = q.ok("dlq", "retry", "--all").stdout.splitlines()
    assert sorted(retried) == ["d0", "d2"]
    assert {(j["state"], j["attempts"]) for j in q.jobs()} == {("pending", 0)}


def test_dlq_retry_of_a_job_that_is_not_dead_changes_nothing(q):
    q.enqueue({"id": "dead1", "command": "false", "max_retries": 0})
    q.drain()
    q.enqueue({"id": "waiting", "command": "true"})
    before = q.jobs()
    cp = q.run("dlq", "retry", "waiting")
    assert cp.returncode == 1 and cp.stderr.startswith("error: ") and cp.stdout == ""
    cp = q.run("dlq", "retry", "dead1", "waiting")
    assert cp.returncode == 1 and cp.stdout == ""
    cp = q.run("dlq", "retry", "dead1", "nosuch")
    assert cp.returncode == 1 and cp.stdout == ""
    assert q.jobs() == before  # dead1 is still dead: all or nothing


def test_timeout_kills_the_grandchild(q):
    pidfile = q.path("grandchild.pid")
    q.enqueue({"id": "slow", "command": f"sh -c 'sleep 30 & echo $! > {pidfile}; wait'",
               "timeout": 1, "max_retries": 0})
    q.drain(timeout=30)
    job = q.job("slow")
    assert job["state"] == "dead"
    assert job["last_error"] == "timed out after 1s"
    assert job["history"][0]["error"] == "timed out after 1s"
    grandchild = int(pidfile.read_text())
    wait_until(lambda: pid_gone(grandchild), 5, message=f"grandchild {grandchild} to die")


def test_timeout_escalates_to_kill_after_the_grace(q):
    q.config_set("kill-grace", "0.5")
    pidfile = q.path("stubborn.pid")
    # TERM is ignored by the shell and, inherited, by its sleep: only KILL ends it
    q.enqueue({"id": "stubborn", "command": f"trap '' TERM; sleep 30 & echo $! > {pidfile}; wait",
               "timeout": 1, "max_retries": 0})
    q.drain(timeout=30)
    job = q.job("stubborn")
    assert job["state"] == "dead"
    assert job["last_error"].startswith("timed out after 1")
    pid = int(pidfile.read_text())
    wait_until(lambda: pid_gone(pid), 5, message=f"stubborn sleep {pid} to die")
    assert job["history"][0]["duration"] < 10


def test_job_timeout_config_applies_when_the_job_sets_none(q):
    q.config_set("job-timeout", 1)
    q.enqueue({"id": "defaulted", "command": "sleep 30", "max_retries": 0})
    q.enqueue({"id": "own", "command": "sleep 1.5", "timeout": 5, "max_retries": 0})
    q.drain(concurrency=2, timeout=30)
    jobs = q.by_id()
    assert jobs["defaulted"]["last_error"] == "timed out after 1s"
    assert jobs["own"]["state"] == "completed"


def test_priority_order_then_fifo(q):
    order = q.path("order")
    docs = [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1), ("f", 0), ("g", 10)]
    q.enqueue_many({"id": i, "command": f"echo {i} >> {order}", "priority": p} for i, p in docs)
    q.enqueue({"id": "h", "command": f"echo h >> {order}", "priority": 5})  # later, same prio
    q.drain(concurrency=1)
    assert order.read_text().split() == ["g", "b", "d", "h", "a", "c", "f", "e"]


@pytest.mark.slow
def test_delay_and_run_at_are_not_run_early(q, workers):
    log = q.path("ran")
    q.enqueue({"id": "now", "command": f"echo now >> {log}"})
    run_at = time.time() + 1.2
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(run_at)) + \
        f".{int(run_at % 1 * 1000):03d}Z"
    q.enqueue({"id": "at", "command": f"echo at >> {log}", "run_at": stamp})
    q.enqueue({"id": "delayed", "command": f"echo delayed >> {log}", "delay": 2})
    w = workers.start("--concurrency", "2", "--drain")
    wait_until(lambda: log.exists() and "now" in log.read_text(), 10, message="immediate job")
    early = q.json("list", "--json")
    states = {j["id"]: j["state"] for j in early}
    if time.time() < run_at - 0.2:
        assert states["at"] == "pending"
        assert states["delayed"] == "pending"
    assert w.wait(30) == 0
    assert log.read_text().split() == ["now", "at", "delayed"]
    for job_id in ("delayed", "at"):
        job = q.job(job_id)
        assert job["state"] == "completed"
        assert ts(job["history"][0]["started_at"]) >= ts(job["run_at"]) - 0.001
    delayed = q.job("delayed")
    assert ts(delayed["run_at"]) - ts(delayed["created_at"]) == pytest.approx(2, abs=0.5)


def test_output_limit_truncates_keeping_head_and_tail(q):
    q.config_set("output-limit", 1000)
    q.enqueue({"id": "chatty",
               "command": "echo HEAD; yes | head -c 100000; echo TAIL; "
                          "echo EHEAD >&2; yes e | head -c 100000 >&2; echo ETAIL >&2"})
    q.drain()
    cp = q.run("logs", "chatty", binary=True)
    assert cp.returncode == 0
    for stream, head, tail in ((cp.stdout, b"HEAD\n", b"TAIL\n"),
                               (cp.stderr, b"EHEAD\n", b"ETAIL\n")):
        assert stream.startswith(head)
        assert stream.endswith(tail)
        match = MARKER.search(stream)
        assert match, stream[:200]
        kept = len(stream) - len(match.group(0))
        assert kept <= 1000 + 2  # the limit, plus at most the newlines around the marker
        total = 100000 + len(head) + len(tail)
        assert int(match.group(1)) + kept >= total - 2
        assert int(match.group(1)) <= total - 1000 + 2


@pytest.mark.slow
def test_50mb_output_flood_stays_bounded(q, workers):
    size = 50_000_000
    q.enqueue({"id": "flood",
               "command": f"yes | head -c {size}; yes e | head -c {size} >&2; sleep 0.5"})
    w = workers.start("--concurrency", "1", "--drain")
    peak = 0
    while w.alive():
        rss = rss_kib(w.pid)
        if rss:
            peak = max(peak, rss)
        time.sleep(0.02)
    assert w.proc.returncode == 0, w.log()
    print(f"worker peak RSS during a 2 x 50 MB flood: {peak / 1024:.1f} MiB")
    assert 0 < peak < 150 * 1024

    limit = 1_048_576
    cp = q.run("logs", "flood", binary=True)
    assert cp.returncode == 0
    for stream in (cp.stdout, cp.stderr):
        match = MARKER.search(stream)
        assert match
        assert len(stream) <= limit + len(match.group(0)) + 2
        assert int(match.group(1)) >= size - limit
    assert q.job("flood")["state"] == "completed"
    on_disk = q.store_bytes()
    assert on_disk < 20_000_000, f"store holds {on_disk} bytes"

