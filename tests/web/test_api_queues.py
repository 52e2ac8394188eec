"""The API of flow control and Part 2 fields, in-process on both backends: `GET /api/queues` is
`queue list --json`, pause/resume follow the CLI's rules, the job list filters by queue and
batch, `GET /api/schedules` is `schedule list --json`, /metrics counts per queue."""

import re

from queuectl.jobs import JobState
from queuectl.render import queue_dict

ZERO = {"pending": 0, "processing": 0, "completed": 0, "failed": 0, "dead": 0}


def seed_queues(seed):
    seed.add("m1", queue="mail", batch="b1")
    seed.add("m2", queue="mail", batch="b2", priority=5)
    seed.add("r1", queue="reports", batch="b1")
    seed.attempt("m2", state=JobState.DEAD, exit_code=1)  # the highest priority: claimed first


def test_queues_are_the_queue_list_document(seed, client):
    seed_queues(seed)
    seed.run(lambda store: store.set_queues(["idle"], limit=3))
    doc = client().get("/api/queues").json()
    expected = [queue_dict(q) for q in seed.run(lambda store: store.list_queues())]
    assert doc == expected
    assert [q["name"] for q in doc] == ["idle", "mail", "reports"]
    assert doc[0] == {"name": "idle", "paused": False, "limit": 3, "jobs": ZERO | {"total": 0}}
    assert doc[1]["jobs"] == ZERO | {"pending": 1, "dead": 1, "total": 2}


def test_pause_and_resume_a_queue(seed, client):
    seed_queues(seed)
    http = client()
    response = http.post("/api/queues/mail/pause")
    assert response.status_code == 200 and response.json() == {"name": "mail", "paused": True}
    assert seed.run(lambda store: store.queue_settings()) == [("mail", True, 0)]
    shown = {q["name"]: q["paused"] for q in http.get("/api/queues").json()}
    assert shown == {"mail": True, "reports": False}
    assert http.post("/api/queues/mail/resume").json() == {"name": "mail", "paused": False}
    assert seed.run(lambda store: store.queue_settings()) == [("mail", False, 0)]


def test_pause_follows_the_cli_rules(seed, client):
    http = client()
    # an unknown queue is created paused, as `queue pause NEW` does
    assert http.post("/api/queues/later/pause").status_code == 200
    assert [q["name"] for q in http.get("/api/queues").json()] == ["later"]
    bad = http.post("/api/queues/bad%20name/pause")
    assert bad.status_code == 400 and "bad queue name 'bad name'" in bad.json()["error"]
    too_long = http.post(f"/api/queues/{'q' * 65}/resume")
    assert too_long.status_code == 400
    assert seed.run(lambda store: store.queue_settings()) == [("later", True, 0)]


def test_jobs_filter_by_queue_and_batch(seed, client):
    seed_queues(seed)
    http = client()

    def ids(query):
        return [j["id"] for j in http.get(f"/api/jobs?{query}").json()]

    assert ids("queue=mail") == ["m2", "m1"]
    assert ids("batch=b1") == ["r1", "m1"]
    assert ids("queue=mail&batch=b1") == ["m1"]
    assert ids("queue=mail&state=dead") == ["m2"]
    assert ids("queue=nope") == [] and ids("batch=") == ["r1", "m2", "m1"]
    doc = http.get("/api/jobs?queue=reports").json()[0]
    assert (doc["queue"], doc["batch"]) == ("reports", "b1")


def test_queue_pages_link_with_their_filter(seed, client):
    for i in range(5):
        seed.add(f"j{i}", queue="mail" if i % 2 == 0 else "default")
    http = client()
    first = http.get("/api/jobs?queue=mail&limit=2")
    assert [j["id"] for j in first.json()] == ["j4", "j2"]
    next_url = re.search(r'<([^>]+)>; rel="next"', first.headers["link"]).group(1)
    assert "queue=mail" in next_url
    assert [j["id"] for j in http.get(next_url).json()] == ["j0"]


def test_schedules_are_the_schedule_list_document(seed, client):
    from queuectl.jobs import NewJob, Schedule
    from queuectl.render import schedule_dict

    template = NewJob("", "backup.sh", max_retries=3, queue="nightly")
    schedule = Schedule("backup", "0 3 * * *", "Europe/Paris", template, 1_900_000_000_000,
                        None, 1_800_000_000_000)
    seed.run(lambda store: store.add_schedule(schedule))
    doc = client().get("/api/schedules").json()
    assert doc == [schedule_dict(schedule)]
    assert doc[0]["job"]["command"] == "backup.sh" and doc[0]["last_run"] is None


def test_metrics_count_jobs_per_queue_and_state(seed, client):
    seed_queues(seed)
    text = client().get("/metrics").text
    assert 'queuectl_jobs{queue="mail",state="dead"} 1\n' in text
    assert 'queuectl_jobs{queue="mail",state="pending"} 1\n' in text
    assert 'queuectl_jobs{queue="reports",state="processing"} 0\n' in text
    assert 'queuectl_jobs{state="dead"} 1\n' in text


def test_queue_pages_render(seed, client):
    seed_queues(seed)
    http = client()
    for path in ["/queues", "/schedules", "/jobs?queue=mail", "/jobs?batch=b1&state=pending",
                 "/jobs?queue=mail&before=2"]:
        assert http.get(path).status_code == 200, path
    page = http.get("/queues").text
    assert "/api/queues/mail/pause" in page and "/jobs?queue=mail&amp;state=dead" in page
