"""Flow control through the installed executable, on both backends (CLI.md "Flow control"):
queue list/pause/resume/set, worker start --queue, --unique-key and --after."""

import json
import signal

import pytest

from .conftest import assert_error, wait_until

OVERLAP = ("python3 -c \"import os,time; p='{log}'; "
           "open(p,'a').write('+\\n'); time.sleep({t}); open(p,'a').write('-\\n')\"")


def most_at_once(path) -> int:
    """The largest number of jobs inside their +/- markers at the same moment."""
    running = peak = 0
    for line in path.read_text().split():
        running += 1 if line == "+" else -1
        peak = max(peak, running)
    return peak


def test_queue_list_shows_settings_and_counts(q):
    q.ok("queue", "pause", "nightly")  # a queue with no jobs yet
    assert q.ok("queue", "set", "downloads", "--limit", "4").stdout == "downloads: limit 4\n"
    q.enqueue("true", "--queue", "downloads")
    q.enqueue("true")
    listed = {x["name"]: x for x in q.json("queue", "list", "--json")}
    assert sorted(listed) == ["default", "downloads", "nightly"]
    assert (listed["nightly"]["paused"], listed["nightly"]["limit"]) == (True, 0)
    assert listed["downloads"]["limit"] == 4
    assert listed["downloads"]["jobs"] == {"pending": 1, "processing": 0, "completed": 0,
                                           "failed": 0, "dead": 0, "total": 1}
    table = q.ok("queue", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["QUEUE", "PAUSED", "LIMIT"]
    assert table[3].split()[:3] == ["nightly", "yes", "-"]


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["queue", "set", "dl", "--limit", "-1"], 2, "--limit must be a whole number"),
    (["queue", "set", "dl", "--limit", "two"], 2, "--limit must be a whole number"),
    (["queue", "pause", "bad name"], 2, "bad queue name 'bad name'"),
    (["queue", "resume", "x" * 65], 2, "bad queue name"),
    (["worker", "start", "--queue", "a,b c", "--drain"], 2, "bad queue name 'b c'"),
    (["enqueue", "--after", "nope", "true"], 1, "no job with id 'nope'"),
])
def test_bad_flow_input_is_one_line_and_changes_nothing(q, args, code, fragment):
    assert_error(q.run(*args), code, fragment)
    assert q.json("queue", "list", "--json") == []
    assert q.jobs() == []


def test_a_limit_holds_with_one_worker_of_many_slots(q):
    log = q.path("overlap.log")
    q.ok("queue", "set", "dl", "--limit", "2")
    for _ in range(6):
        q.enqueue(OVERLAP.format(log=log, t=0.3), "--queue", "dl")
    for _ in range(3):
        q.enqueue("true")
    q.drain(concurrency=6)
    assert most_at_once(log) == 2
    assert {j["state"] for j in q.jobs()} == {"completed"}


def test_pause_takes_effect_on_a_running_worker_and_resume_releases(q, workers):
    q.ok("queue", "pause", "p")
    worker = workers.start("--concurrency", "2")
    workers.wait_registered(1)
    held = q.enqueue("true", "--queue", "p")
    free = q.enqueue("true")
    wait_until(lambda: q.job(free)["state"] == "completed", 10, 0.05, "the free job ran")
    assert q.job(held)["state"] == "pending"
    q.ok("queue", "resume", "p")
    wait_until(lambda: q.job(held)["state"] == "completed", 5, 0.05, "resumed job ran")
    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0


def test_a_worker_serves_only_its_queues_and_drains_without_paused_ones(q):
    mine, other, paused = (q.enqueue("true", "--queue", name) for name in ("a", "b", "c"))
    q.ok("queue", "pause", "c")
    cp = q.drain("--queue", "a,c")
    states = {j["id"]: j["state"] for j in q.jobs()}
    assert (states[mine], states[other], states[paused]) == ("completed", "pending", "pending")
    assert "queues a,c" in cp.stderr


def test_a_held_unique_key_prints_the_holder(q):
    first = q.enqueue("sleep 1", "--unique-key", "thumb:42")
    cp = q.ok("enqueue", "true", "--unique-key", "thumb:42")
    assert cp.stdout == f"{first}\n"
    assert cp.stderr.startswith(f"note: job {first} (pending) holds unique key 'thumb:42'")
    assert q.json("enqueue", "true", "--unique-key", "thumb:42", "--json")["id"] == first
    assert len(q.jobs()) == 1
    q.drain()
    assert q.enqueue("true", "--unique-key", "thumb:42") != first  # free once completed


def test_after_waits_for_success_and_buries_on_failure(q):
    ok, bad = q.enqueue("true"), q.enqueue("false", "--max-retries", "0")
    both = q.enqueue("true", "--after", ok, "--after", bad)
    only_ok = q.enqueue("true", "--after", ok)
    chained = q.enqueue("true", "--after", both)
    q.drain()
    jobs = q.by_id()
    assert jobs[only_ok]["state"] == "completed"
    for job_id, cause in ((both, bad), (chained, both)):
        assert (jobs[job_id]["state"], jobs[job_id]["attempts"], jobs[job_id]["last_error"]) == (
            "dead", 0, f"dependency {cause} failed")
    assert jobs[both]["after"] == [ok, bad]


def test_after_in_a_file_names_earlier_lines(q):
    lines = [{"id": "fetch", "command": "true"},
             {"id": "build", "command": "true", "after": ["fetch"]},
             {"id": "ship", "command": "true", "after": ["build", "fetch"]}]
    q.ok("enqueue", "--file", "-", input="\n".join(json.dumps(x) for x in lines))
    cp = q.drain()
    started = [line.split()[2] for line in cp.stderr.splitlines() if " started " in line]
    assert started == ["fetch", "build", "ship"]
    bad = [{"id": "x", "command": "true", "after": ["y"]}, {"id": "y", "command": "true"}]
    assert_error(q.run("enqueue", "--file", "-", input="\n".join(json.dumps(x) for x in bad)),
                 1, "no job with id 'y'")


# -- schedules ---------------------------------------------------------------------------------

def test_schedule_add_list_remove(q):
    out = q.ok("schedule", "add", "nightly", "--cron", "0 2 * * *", "--tz", "Europe/Berlin",
               "backup.sh", "--queue", "ops", "-p", "3").stdout
    assert out.startswith("schedule nightly: next run ") and out.endswith(":00:00.000Z\n")
    (listed,) = q.json("schedule", "list", "--json")
    assert (listed["name"], listed["cron"], listed["zone"], listed["last_run"]) == (
        "nightly", "0 2 * * *", "Europe/Berlin", None)
    assert (listed["job"]["command"], listed["job"]["queue"], listed["job"]["priority"]) == (
        "backup.sh", "ops", 3)
    assert q.ok("schedule", "list").stdout.splitlines()[1].split()[:3] == [
        "nightly", "0", "2"]
    assert q.ok("schedule", "remove", "nightly").stdout == "removed schedule nightly\n"
    assert q.json("schedule", "list", "--json") == []


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["--cron", "61 * * * *"], 2, "bad minute"),
    (["--cron", "* * * *"], 2, "expected 5 fields"),
    (["--cron", "@often"], 2, "bad cron expression"),
    (["--cron", "@daily", "--tz", "Mars/Olympus"], 2, "unknown time zone 'Mars/Olympus'"),
    (["--cron", "@daily", "--after", "x"], 2, "No such option"),
])
def test_bad_schedules_are_one_line_and_add_nothing(q, args, code, fragment):
    assert_error(q.run("schedule", "add", "s1", "true", *args), code, fragment)
    assert q.json("schedule", "list", "--json") == []


def test_a_taken_or_unknown_schedule_name_is_exit_1(q):
    q.ok("schedule", "add", "s1", "--cron", "@daily", "true")
    assert_error(q.run("schedule", "add", "s1", "--cron", "@hourly", "false"), 1,
                 "a schedule named 's1' already exists")
    assert q.json("schedule", "list", "--json")[0]["cron"] == "@daily"
    assert_error(q.run("schedule", "remove", "nope"), 1, "no schedule named 'nope'")
