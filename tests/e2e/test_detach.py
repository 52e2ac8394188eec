"""`worker start --detach`: a background worker that is registered when the command returns."""

import os
import re
from pathlib import Path

import pytest

from .conftest import assert_error, pid_gone, wait_until

STARTED = re.compile(r"^worker (\S+) started in the background: pid (\d+), log (.+)$")


def detach(q, *args: str, env: dict | None = None) -> tuple[str, int, Path]:
    cp = q.ok("worker", "start", "--detach", *args, env=env)
    match = STARTED.match(cp.stdout.strip())
    assert match, cp.stdout
    return match[1], int(match[2]), Path(match[3])


def state_env(q) -> dict:
    return q.env | {"XDG_STATE_HOME": str(q.tmp / "xdg-state")}


@pytest.mark.slow
def test_a_detached_worker_is_listed_at_once_runs_jobs_and_stops(q):
    worker_id, pid, log = detach(q, "--concurrency", "2", env=state_env(q))
    listed = q.json("worker", "list", "--json")  # no waiting: it is registered already
    assert [(w["id"], w["pid"], w["concurrency"]) for w in listed] == [(worker_id, pid, 2)]
    assert os.getsid(pid) == pid  # a session of its own: the terminal's hangup cannot reach it
    q.enqueue({"id": "hello", "command": "echo hello from the background"})
    wait_until(lambda: q.job("hello")["state"] == "completed", 20, 0.1, "the job to complete")
    assert q.ok("worker", "stop", "--timeout", "20").stdout == "1 worker stopped\n"
    wait_until(lambda: pid_gone(pid), 5, message="the detached worker to exit")
    text = log.read_text()
    assert f"worker {worker_id} started" in text and f"worker {worker_id} stopped" in text
    assert "hello" in text


@pytest.mark.slow
def test_the_default_log_is_beside_an_sqlite_store_or_under_xdg_state_home(q):
    _, pid, log = detach(q, env=state_env(q))
    if q.backend == "sqlite":
        assert log == q.db_file.with_name("q.worker.log")
    else:
        assert log == q.tmp / "xdg-state" / "queuectl" / "worker.log"
    assert log.exists() and (log.stat().st_mode & 0o777) == 0o600
    q.ok("worker", "stop", "--timeout", "20")
    wait_until(lambda: pid_gone(pid), 5, message="the detached worker to exit")


@pytest.mark.slow
def test_an_explicit_log_file_is_appended_to(q):
    log = q.path("my.log")
    log.write_text("kept line\n")
    _, pid, reported = detach(q, "--log-file", str(log))
    assert reported == log
    q.ok("worker", "stop", "--timeout", "20")
    wait_until(lambda: pid_gone(pid), 5, message="the detached worker to exit")
    assert log.read_text().startswith("kept line\n")


def test_a_log_file_that_cannot_be_opened_is_exit_2_and_starts_nothing(q):
    cp = q.run("worker", "start", "--detach", "--log-file", str(q.path("missing-dir/w.log")))
    assert_error(cp, 2, "cannot open log file", "missing-dir/w.log")
    assert q.json("worker", "list", "--json") == []


@pytest.mark.parametrize("args", [["--log-file", "x.log"], ["--detach", "--concurrency", "0"]])
def test_bad_detach_forms_are_exit_2(q, args):
    assert_error(q.run("worker", "start", *args), 2)
    assert q.json("worker", "list", "--json") == []


def test_typer_takes_the_forms_the_lean_parser_does(q):
    """`--debug` sends the command through typer: same forms, same result."""
    log = q.path("typer.log")
    cp = q.ok("--debug", "worker", "start", "--detach", "--log-file", str(log), "-c", "1")
    pid = int(STARTED.match(cp.stdout.strip())[2])
    assert [w["pid"] for w in q.json("worker", "list", "--json")] == [pid]
    q.ok("worker", "stop", "--timeout", "20")
    wait_until(lambda: pid_gone(pid), 5, message="the detached worker to exit")
    assert log.exists()


@pytest.mark.slow
def test_a_detached_worker_serves_only_the_queues_named(q):
    _, pid, _ = detach(q, "--queue", "fast", env=state_env(q))
    q.enqueue({"id": "other", "command": "true"})
    q.enqueue({"id": "mine", "command": "true", "queue": "fast"})
    wait_until(lambda: q.job("mine")["state"] == "completed", 20, 0.1, "the fast job to run")
    assert q.job("other")["state"] == "pending"
    q.ok("worker", "stop", "--timeout", "20")
    wait_until(lambda: pid_gone(pid), 5, message="the detached worker to exit")


def test_a_bad_queue_list_is_exit_2_before_anything_starts(q):
    assert_error(q.run("worker", "start", "--detach", "--queue", "a b"), 2, "bad queue name")
    assert q.json("worker", "list", "--json") == []
