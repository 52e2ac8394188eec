"""The JSON API and /metrics in-process, on both backends: the CLI's --json documents, errors as
{"error": ...} with 400 / 404 / 409, keyset pages linked in the Link header."""

import re

from queuectl.jobs import STATES, JobState

JOB_FIELDS = {"id", "command", "state", "attempts", "max_retries", "created_at", "updated_at",
              "priority", "run_at", "next_retry_at", "timeout", "exit_code", "last_error"}


def test_status_is_the_status_document(seed, client):
    seed.standard()
    doc = client().get("/api/status").json()
    assert doc["jobs"] == {"pending": 1, "processing": 0, "completed": 1, "failed": 0, "dead": 1,
                           "total": 3}
    assert doc["dlq"] == 1 and doc["workers"] == []
    assert doc["metrics"]["completed_last_hour"] == 1 and doc["metrics"]["failed_last_hour"] == 1
    assert doc["metrics"]["p95_duration"] == 0.25


def test_jobs_are_job_objects_newest_first(seed, client):
    seed.standard()
    jobs = client().get("/api/jobs").json()
    assert [j["id"] for j in jobs] == ["later", "bad", "ok"]
    assert all(set(j) >= JOB_FIELDS for j in jobs)
    assert jobs[1]["state"] == "dead" and jobs[1]["exit_code"] == 3


def test_jobs_filter_by_state_and_text(seed, client):
    seed.standard()
    http = client()
    assert [j["id"] for j in http.get("/api/jobs?state=dead").json()] == ["bad"]
    assert [j["id"] for j in http.get("/api/jobs", params={"q": "SCRIPT"}).json()] == ["ok"]
    assert http.get("/api/jobs?state=failed").json() == []


def test_jobs_page_through_the_link_header(seed, client):
    for i in range(7):
        seed.add(f"j{i}")
    http = client()
    first = http.get("/api/jobs?limit=3")
    assert [j["id"] for j in first.json()] == ["j6", "j5", "j4"]
    next_url = re.search(r'<([^>]+)>; rel="next"', first.headers["link"]).group(1)
    second = http.get(next_url)
    assert [j["id"] for j in second.json()] == ["j3", "j2", "j1"]
    prev_url = re.search(r'<([^>]+)>; rel="prev"', second.headers["link"]).group(1)
    assert [j["id"] for j in http.get(prev_url).json()] == ["j6", "j5", "j4"]
    last = http.get(re.search(r'<([^>]+)>; rel="next"', second.headers["link"]).group(1))
    assert [j["id"] for j in last.json()] == ["j0"] and 'rel="next"' not in last.headers["link"]


def test_bad_listing_parameters_are_400(client):
    http = client()
    for query, fragment in [("state=bogus", "unknown state 'bogus'"), ("limit=0", "limit"),
                            ("limit=abc", "limit"), ("before=-1", "before"),
                            ("sort=id", "unknown query parameter 'sort'")]:
        response = http.get(f"/api/jobs?{query}")
        assert response.status_code == 400, query
        assert fragment in response.json()["error"]


def test_one_job_with_history(seed, client):
    seed.standard()
    doc = client().get("/api/jobs/bad").json()
    assert doc["id"] == "bad" and doc["state"] == "dead"
    assert [(a["attempt"], a["exit_code"], a["error"]) for a in doc["history"]] == [
        (1, 3, "exit code 3")]
    assert client().get("/api/jobs/nope").status_code == 404
    assert client().get("/api/jobs/nope").json() == {"error": "no job with id 'nope'"}


def test_logs_of_an_attempt(seed, client):
    seed.standard()
    http = client()
    doc = http.get("/api/jobs/ok/logs").json()
    assert doc == {"id": "ok", "attempt": 1, "stdout": "<script>window.__xss = 1</script>\nhello\n",
                   "stderr": "warn\n"}
    assert http.get("/api/jobs/ok/logs?attempt=1").json()["attempt"] == 1
    assert http.get("/api/jobs/ok/logs?attempt=2").status_code == 404
    assert http.get("/api/jobs/later/logs").status_code == 404
    assert http.get("/api/jobs/ok/logs?attempt=x").status_code == 400


def test_retry_one_dead_job(seed, client):
    seed.standard()
    http = client()
    response = http.post("/api/jobs/bad/retry")
    assert response.status_code == 200 and response.json() == {"retried": ["bad"]}
    job = http.get("/api/jobs/bad").json()
    assert (job["state"], job["attempts"], len(job["history"])) == ("pending", 0, 1)


def test_retry_refuses_what_the_cli_refuses(seed, client):
    seed.standard()
    http = client()
    not_dead = http.post("/api/jobs/ok/retry")
    assert not_dead.status_code == 409 and "not dead" in not_dead.json()["error"]
    assert http.post("/api/jobs/nope/retry").status_code == 404
    assert seed.state_of("ok") == "completed"


def test_retry_all_empties_the_dlq(seed, client):
    seed.standard()
    seed.add("bad2", "false", max_retries=0, priority=9)
    seed.attempt("bad2", state=JobState.DEAD, exit_code=1)
    http = client()
    assert sorted(http.post("/api/dlq/retry").json()["retried"]) == ["bad", "bad2"]
    assert http.get("/api/status").json()["dlq"] == 0
    assert http.post("/api/dlq/retry").json() == {"retried": []}


def test_workers_are_the_live_ones(client):
    assert client().get("/api/workers").json() == []


def test_metrics_in_prometheus_text(seed, client):
    seed.standard()
    response = client().get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for state in STATES:
        assert re.search(rf'^queuectl_jobs{{state="{state}"}} \d+$', text, re.M)
    assert 'queuectl_jobs{state="dead"} 1\n' in text
    assert "queuectl_workers 0\n" in text
    assert "# TYPE queuectl_job_duration_seconds summary" in text
    assert 'queuectl_job_duration_seconds{quantile="0.95"} 0.25\n' in text
    assert "queuectl_job_duration_seconds_count 2\n" in text
    assert "queuectl_job_duration_seconds_sum 0.5\n" in text


def test_pages_render(seed, client):
    seed.standard()
    http = client()
    for path in ["/", "/live/overview", "/jobs", "/jobs?state=dead&q=ba", "/dlq", "/workers",
                 "/jobs/ok", "/jobs/ok?attempt=1", "/static/app.css", "/static/app.js"]:
        assert http.get(path).status_code == 200, path
    assert http.get("/jobs/nope").status_code == 404
    assert http.get("/jobs?state=bogus").status_code == 400
