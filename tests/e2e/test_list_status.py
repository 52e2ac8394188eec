"""`list`, `status`, `worker list`: filters, counts, metrics, live workers."""

import socket

from .conftest import STATES, TIMESTAMP, wait_until


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
