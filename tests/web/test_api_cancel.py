"""Cancel and live output through the API, in-process on both backends: `POST
/api/jobs/ID/cancel` is `cancel ID --json` with the CLI's errors (404 unknown, 409 finished);
`GET /api/jobs/ID/follow` streams an attempt's output as server-sent events."""

import json

from queuectl.jobs import JobState
from queuectl.timeutil import now_ms


def events(text):
    """[(event, data)] of a server-sent event stream."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_cancel_a_waiting_job(seed, client):
    seed.standard()
    http = client()
    response = http.post("/api/jobs/later/cancel")
    assert response.status_code == 200
    (doc,) = response.json()
    assert (doc["id"], doc["state"], doc["last_error"]) == ("later", "dead", "cancelled")
    assert seed.state_of("later") == "dead"


def test_cancel_a_running_job_asks_its_worker(seed, client):
    seed.add("busy", "sleep 60")
    seed.run(lambda store: store.claim_jobs(worker_id="w-test", limit=1, now=now_ms()))
    (doc,) = client().post("/api/jobs/busy/cancel").json()
    assert doc["state"] == "processing"  # its worker kills it and records the attempt
    assert seed.state_of("busy") == "processing"


def test_cancel_refuses_what_the_cli_refuses(seed, client):
    seed.standard()
    http = client()
    finished = http.post("/api/jobs/ok/cancel")
    assert finished.status_code == 409 and "already completed" in finished.json()["error"]
    missing = http.post("/api/jobs/nope/cancel")
    assert missing.status_code == 404 and missing.json() == {"error": "no job with id 'nope'"}
    # a GET is the job "ok/cancel" (ids may hold "/"): never a cancel (test_security.py)
    assert http.get("/api/jobs/later/cancel").status_code in (404, 405)
    assert seed.state_of("later") == "pending"
    assert seed.state_of("ok") == "completed"


def test_follow_a_finished_job_gives_its_output_then_the_end(seed, client):
    seed.standard()
    response = client().get("/api/jobs/ok/follow")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events(response.text) == [
        ("output", {"stream": "stdout", "text": "<script>window.__xss = 1</script>\nhello\n"}),
        ("output", {"stream": "stderr", "text": "warn\n"}),
        ("end", {"attempt": 1})]


def test_follow_an_unknown_job_is_404(client):
    response = client().get("/api/jobs/nope/follow")
    assert response.status_code == 404 and response.json() == {"error": "no job with id 'nope'"}


def test_follow_replaces_invalid_utf8_and_keeps_split_characters(seed, client):
    seed.add("bytes", "true")
    seed.attempt("bytes", state=JobState.COMPLETED, out="é".encode() + b"\xff")
    (output, end) = events(client().get("/api/jobs/bytes/follow").text)
    assert output == ("output", {"stream": "stdout", "text": "é\ufffd"}) and end[0] == "end"
