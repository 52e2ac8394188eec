"""Every usage/validation error is exit 2 with one `error:` line; runtime failures are exit 1."""

import json
import subprocess

import pytest

from .conftest import CONFIG_DEFAULTS as DEFAULTS
from .conftest import QUEUECTL, STATES, assert_error, base_env


def _job(**fields):
    return json.dumps({"command": "true", **fields})


# (args, fragment expected in the message or None)
ENQUEUE_EXIT_2 = {
    "bad flag": (["enqueue", "true", "--bogus"], None),
    "bad JSON": (["enqueue", '{"command": "true"'], None),
    "bad JSON array": (["enqueue", '[{"command": "true"},'], None),
    "unknown field": (["enqueue", _job(colour="red")], "colour"),
    "missing command": (["enqueue", '{"id": "x"}'], "command"),
    "command wrong type": (["enqueue", '{"command": 5}'], "command"),
    "blank command JSON": (["enqueue", '{"command": "   "}'], "command"),
    # no store can keep text that is not Unicode: same error on every backend
    "lone surrogate in command": (["enqueue", '{"command": "echo \\ud800"}'], "command"),
    "blank plain command": (["enqueue", "   "], None),
    "empty plain command": (["enqueue", ""], None),
    "priority wrong type": (["enqueue", _job(priority="high")], "priority"),
    "max_retries wrong type": (["enqueue", _job(max_retries=1.5)], "max_retries"),
    "max_retries bool": (["enqueue", _job(max_retries=True)], "max_retries"),
    "negative max_retries": (["enqueue", _job(max_retries=-1)], "max_retries"),
    "negative --max-retries": (["enqueue", "true", "--max-retries", "-1"], None),
    "timeout zero": (["enqueue", _job(timeout=0)], "timeout"),
    "timeout negative": (["enqueue", _job(timeout=-2)], "timeout"),
    "timeout wrong type": (["enqueue", _job(timeout="10")], "timeout"),
    "timeout_sec zero": (["enqueue", _job(timeout_sec=0)], "timeout"),
    "--timeout 0": (["enqueue", "true", "--timeout", "0"], None),
    "negative delay": (["enqueue", _job(delay=-1)], "delay"),
    "delay with run_at": (["enqueue", _job(delay=5, run_at="2030-01-01T00:00:00Z")], None),
    "bad run_at": (["enqueue", _job(run_at="tomorrow")], None),
    "run_at without offset": (["enqueue", _job(run_at="2030-01-01T00:00:00")], None),
    "run_at wrong type": (["enqueue", _job(run_at=1700000000)], "run_at"),
    "bad --run-at": (["enqueue", "true", "--run-at", "soon"], None),
    "id wrong type": (["enqueue", '{"id": 7, "command": "true"}'], "id"),
    "top-level JSON not a job": (["enqueue", "[1, 2]"], "index 0"),
    "array element not an object": (["enqueue", '[{"command": "true"}, 3]'], "index 1"),
    "bad --priority value": (["enqueue", "true", "--priority", "high"], None),
    "empty array": (["enqueue", "[]"], "no jobs"),
    "empty --db": (["--db", "", "enqueue", "true"], "empty"),
}


@pytest.mark.parametrize("args, fragment", ENQUEUE_EXIT_2.values(), ids=ENQUEUE_EXIT_2.keys())
def test_enqueue_validation_is_exit_2(shared_q, args, fragment):
    cp = shared_q.run(*args)
    assert_error(cp, 2, *([fragment] if fragment else []))


def test_invalid_enqueues_created_nothing(shared_q):
    """Runs after the cases above, on the same store: not one of them created a job."""
    assert shared_q.jobs() == []


def test_delay_and_run_at_flags_together_are_rejected(q):
    """Contract: `delay` is "not with `run_at`"; both flags on one command line conflict."""
    cp = q.run("enqueue", "true", "--delay", "5", "--run-at", "2030-01-01T00:00:00Z")
    assert_error(cp, 2)
    assert q.jobs() == []


OTHER_EXIT_2 = {
    "unknown command": ["frobnicate"],
    "list bad flag": ["list", "--bogus"],
    "list bad limit": ["list", "--limit", "many"],
    "status bad flag": ["status", "--bogus"],
    "worker start bad flag": ["worker", "start", "--bogus"],
    "--concurrency 0": ["worker", "start", "--concurrency", "0"],
    "--concurrency -1": ["worker", "start", "--concurrency", "-1"],
    "--count 0": ["worker", "start", "--count", "0"],
    "--concurrency abc": ["worker", "start", "--concurrency", "abc"],
    "logs bad attempt": ["logs", "x", "--attempt", "abc"],
    "logs huge attempt": ["logs", "x", "--attempt", "99999999999999999999"],
    "--count huge": ["worker", "start", "--count", "99999999999999999999"],
    "--limit in other digits": ["list", "--limit", "\u0663"],
    "empty --db for status": ["--db", "", "status"],
    "dlq retry without ids": ["dlq", "retry"],
    "config get unknown key": ["config", "get", "colour"],
    "config set unknown key": ["config", "set", "colour", "red"],
}


@pytest.mark.parametrize("args", OTHER_EXIT_2.values(), ids=OTHER_EXIT_2.keys())
def test_usage_errors_are_exit_2(shared_q, args):
    assert_error(shared_q.run(*args), 2)


def test_unknown_state_is_exit_2_and_lists_the_valid_ones(shared_q):
    cp = shared_q.run("list", "--state", "bogus")
    assert_error(cp, 2, "bogus", *STATES)


def test_every_state_is_a_valid_filter(shared_q):
    for state in STATES:
        assert isinstance(shared_q.jobs("--state", state), list)


BAD_CONFIG = {
    "max-retries negative": ("max-retries", "-1"),
    "max-retries fraction": ("max-retries", "1.5"),
    "max-retries text": ("max-retries", "abc"),
    "backoff-base below 1": ("backoff-base", "0.5"),
    "backoff-base text": ("backoff-base", "two"),
    "worker-count zero": ("worker-count", "0"),
    "output-limit negative": ("output-limit", "-5"),
    "job-timeout negative": ("job-timeout", "-1"),
    "backoff-max text": ("backoff-max", "forever"),
    # values that used to be accepted and then crashed or confused every worker
    "backoff-max beyond ten years": ("backoff-max", "1e17"),
    "worker-lease below 2 s": ("worker-lease", "0.000001"),
    "worker-count beyond 10000": ("worker-count", "1000000"),
}


@pytest.mark.parametrize("key, value", BAD_CONFIG.values(), ids=BAD_CONFIG.keys())
def test_bad_config_value_is_exit_2_and_keeps_the_old_value(shared_q, key, value):
    cp = shared_q.run("config", "set", key, value)
    assert_error(cp, 2, key)  # a negative number too is a value here, not an option


def test_bad_config_values_kept_the_old_values(shared_q):
    """Runs after the cases above, on the same store: every key still has its default."""
    listed = shared_q.json("config", "list", "--json")
    assert {key: listed[key] for key in DEFAULTS} == DEFAULTS


def test_enqueue_file_dash_with_stdin_closed_is_exit_2(q):
    cp = subprocess.run(["sh", "-c", f"exec {QUEUECTL} enqueue --file - <&-"],
                        capture_output=True, text=True, env=q.env, cwd=q.tmp, timeout=60)
    assert_error(cp, 2, "standard input is closed")
    assert q.jobs() == []


def test_not_found_is_exit_1(shared_q):
    q = shared_q
    assert_error(q.run("show", "nosuch"), 1, "nosuch")
    assert_error(q.run("show", "nosuch", "--json"), 1, "nosuch")
    assert_error(q.run("logs", "nosuch"), 1, "nosuch")
    assert_error(q.run("dlq", "retry", "nosuch"), 1, "nosuch")


# sqlite_only: it corrupts the SQLite file; test_unreachable_store_is_exit_1 is the PostgreSQL twin
@pytest.mark.sqlite_only
def test_no_traceback_on_a_broken_store(q):
    q.db_file.write_bytes(b"this is not an sqlite database" * 100)
    cp = q.run("list")
    assert cp.returncode == 1, cp
    assert "Traceback" not in cp.stderr
    assert cp.stderr.startswith("error: ")


def test_unreachable_store_is_exit_1(tmp_path):
    """A PostgreSQL server nobody listens for (port 1): one `error:` line, exit 1, no retry loop.
    Needs no server, so it runs without QUEUECTL_TEST_PG_DSN too."""
    env = base_env(tmp_path, "postgresql://queuectl@127.0.0.1:1/nowhere?schema=x")
    for args in (["list"], ["status", "--json"], ["enqueue", "true"], ["worker", "list"]):
        cp = subprocess.run([QUEUECTL, *args], capture_output=True, text=True, env=env,
                            timeout=60)
        assert_error(cp, 1, "127.0.0.1:1")
