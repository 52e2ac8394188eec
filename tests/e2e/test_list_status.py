"""`list`, `status`, `worker list`: filters, counts, metrics, live workers."""

import socket
import time

import pytest

from .conftest import STATES, TIMESTAMP, pg_query, pg_schema, wait_until


def test_list_filters_and_limits_in_enqueue_order(q):
    q.enqueue({"id": "c1", "command": "true"})
    q.enqueue({"id": "d1", "command": "exit 1", "max_retries": 0})
    q.enqueue({"id": "c2", "command": "true", "priority": 5})
    q.drain()
    q.enqueue({"id": "p1", "command": "true", "delay": 3600})
    assert [j["id"] for j in q.jobs()] == ["c1", "d1", "c2", "p1"]
    assert [j["id"] for j in q.jobs("--state", "completed")] == ["c1", "c2"]
    assert [j["id"] for j in q.jobs("--state", "dead")] == ["d1"]
    assert [j["id"] for j in q.jobs("--state", "pending")] == ["p1"]
    assert q.jobs("--state", "failed") == []
    assert len(q.jobs("--limit", "2")) == 2
    assert [j["id"] for j in q.jobs("--limit", "2")] == ["c1", "d1"]
    assert [j["id"] for j in q.jobs("--state", "completed", "--limit", "1")] == ["c1"]


def test_status_counts_dlq_and_metrics(q):
    q.enqueue({"id": "ok1", "command": "true"})
    q.enqueue({"id": "ok2", "command": "sleep 0.2"})
    q.enqueue({"id": "dead1", "command": "exit 4", "max_retries": 0})
    q.drain()
    q.enqueue({"id": "waiting", "command": "true", "delay": 3600})

    status = q.json("status", "--json")
    assert status["jobs"] == {
        "pending": 1, "processing": 0, "completed": 2, "failed": 0, "dead": 1, "total": 4,
    }
    assert status["dlq"] == 1
    assert status["workers"] == []  # the drain worker has exited
    metrics = status["metrics"]
    for key in ("completed_last_minute", "failed_last_minute", "completed_last_hour",
                "failed_last_hour", "mean_duration", "p95_duration"):
        assert key in metrics, key
    assert metrics["completed_last_minute"] == 2
    assert metrics["completed_last_hour"] == 2
    assert metrics["failed_last_minute"] == 1
    assert metrics["failed_last_hour"] == 1
    assert isinstance(metrics["mean_duration"], int | float) and metrics["mean_duration"] >= 0
    assert isinstance(metrics["p95_duration"], int | float)
    assert metrics["p95_duration"] >= 0.15  # the 0.2 s job is in the top 5 %


def test_status_on_empty_store_has_null_durations(q):
    status = q.json("status", "--json")
    assert status["jobs"] == {**dict.fromkeys(STATES, 0), "total": 0}
    assert status["metrics"]["mean_duration"] is None
    assert status["metrics"]["p95_duration"] is None
    assert status["metrics"]["completed_last_hour"] == 0


def test_worker_list_and_status_show_a_live_worker(q, workers):
    q.config_set("worker-count", 3)  # used when --concurrency is absent
    marker = q.path("running")
    q.enqueue({"id": "busy", "command": f"touch {marker}; sleep 30"})
    w = workers.start()
    wait_until(marker.exists, 15, message="job started")
    listed = wait_until(
        lambda: [x for x in q.json("worker", "list", "--json") if x["running"] == 1], 10,
        0.2, "worker list shows the running job",
    )
    assert len(listed) == 1
    info = listed[0]
    for key in ("id", "pid", "host", "concurrency", "started_at", "last_heartbeat", "running"):
        assert key in info, key
    assert info["pid"] == w.pid
    assert info["host"] == socket.gethostname()
    assert info["concurrency"] == 3
    assert TIMESTAMP.match(info["started_at"]) and TIMESTAMP.match(info["last_heartbeat"])
    assert isinstance(info["id"], str) and info["id"]

    status = q.json("status", "--json")
    assert len(status["workers"]) == 1
    assert status["jobs"]["processing"] == 1
    job = q.job("busy")
    assert job["state"] == "processing" and job["attempts"] == 1
    assert str(w.pid) in q.ok("worker", "list").stdout


def _linguistic_collation() -> str:
    """A collation like most servers' default (en_US.UTF-8): case-insensitive at first level."""
    rows = pg_query("SELECT collname FROM pg_collation WHERE collname IN "
                    "('und-x-icu', 'en-US-x-icu', 'en_US.utf8') ORDER BY collname DESC")
    if not rows:
        pytest.skip("this PostgreSQL server has no linguistic collation to test against")
    return rows[0][0]


def test_workers_are_listed_by_start_then_id_bytes_whatever_the_collation(q):
    """Workers on other machines that started in the same millisecond: both backends list them
    by id byte by byte, as SQLite does, even where the database's collation would put `alpha`
    before `Zeta` (the test server is C.UTF-8, so the PostgreSQL variant gives the workers
    table the collation most servers have by default)."""
    q.ok("status")  # creates the store
    if q.backend == "postgres":
        pg_query(f'ALTER TABLE "{pg_schema(q.db)}".workers ALTER COLUMN id TYPE text '
                 f'COLLATE "{_linguistic_collation()}"')
    now = int(time.time() * 1000)
    ids = ["beta-host-2-bbbb", "Zeta-host-1-aaaa", "alpha-host-3-cccc", "early-host-4-dddd"]
    q.insert_rows("workers", [
        {"id": worker_id, "pid": 4242, "host": worker_id.rsplit("-", 2)[0], "concurrency": 1,
         "started_at": now - 5000 if worker_id.startswith("early") else now - 1000,
         "heartbeat_at": now, "running": 0, "stop_requested": False} for worker_id in ids])
    expected = ["early-host-4-dddd", "Zeta-host-1-aaaa", "alpha-host-3-cccc", "beta-host-2-bbbb"]
    assert [w["id"] for w in q.json("worker", "list", "--json")] == expected
    assert [w["id"] for w in q.json("status", "--json")["workers"]] == expected


READERS_THAT_LEFT = [("list",), ("list", "--json"), ("dlq", "list"), ("dlq", "list", "--json"),
                     ("status",), ("status", "--json"), ("worker", "list", "--json"),
                     ("show", "d1"), ("show", "d1", "--json"), ("logs", "d1"),
                     ("config", "get")]


def test_a_reader_that_left_is_a_normal_end_for_every_listing(q):
    """`queuectl list | head -1`: exit 0, nothing on stderr (DECISIONS.md says why not 141).
    The reader's end is closed before the command starts, so every write meets EPIPE."""
    import os
    import subprocess

    from .conftest import QUEUECTL

    q.enqueue({"id": "d1", "command": "echo out; exit 1", "max_retries": 0})
    q.drain()
    for args in READERS_THAT_LEFT:
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            cp = subprocess.run([QUEUECTL, *args], stdout=write_end, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=q.env, cwd=q.tmp, timeout=60)
        finally:
            os.close(write_end)
        assert (cp.returncode, cp.stderr) == (0, b""), (args, cp.stderr.decode()[-500:])
