"""`queuectl enqueue`: every input form, the job object, all-or-nothing bulk, duplicates."""

import json

from .conftest import JOB_FIELDS, TIMESTAMP, assert_error, ts


def test_plain_shell_command_is_a_job(q):
    job_id = q.enqueue("echo 'Hello QueueCTL'")
    job = q.by_id()[job_id]
    assert job["command"] == "echo 'Hello QueueCTL'"
    assert job["state"] == "pending"
    assert job["attempts"] == 0


def test_job_object_has_every_contract_field_with_defaults(q):
    job_id = q.enqueue({"id": "job1", "command": "sleep 2"})
    assert job_id == "job1"
    job = q.job("job1")
    for key in JOB_FIELDS:
        assert key in job, f"missing {key}"
    assert job["id"] == "job1"
    assert job["command"] == "sleep 2"
    assert job["state"] == "pending"
    assert job["attempts"] == 0
    assert job["max_retries"] == 3  # config default
    assert job["priority"] == 0
    assert job["timeout"] is None
    assert job["exit_code"] is None
    assert job["last_error"] is None
    assert job["next_retry_at"] is None
    for key in ("created_at", "updated_at", "run_at"):
        assert TIMESTAMP.match(job[key]), (key, job[key])
    assert ts(job["run_at"]) <= ts(job["created_at"]) + 1  # due now
    assert job["history"] == []


def test_generated_ids_are_unique_non_empty_strings(q):
    ids = [q.enqueue("true") for _ in range(3)]
    assert all(isinstance(i, str) and i.strip() for i in ids)
    assert len(set(ids)) == 3
    assert [j["id"] for j in q.jobs()] == ids  # list is in enqueue order


def test_fields_and_flag_overrides(q):
    q.enqueue({"id": "a", "command": "true", "max_retries": 0, "priority": -4, "timeout": 2.5})
    doc = {"id": "ignored", "command": "true", "priority": 1, "max_retries": 1}
    q.enqueue(doc, "--id", "b", "--priority", "7", "--max-retries", "5", "--timeout", "3")
    jobs = q.by_id()
    assert list(jobs) == ["a", "b"]  # --id replaced the document's id
    a, b = jobs["a"], jobs["b"]
    assert (a["max_retries"], a["priority"], a["timeout"]) == (0, -4, 2.5)
    assert (b["max_retries"], b["priority"], b["timeout"]) == (5, 7, 3)


def test_flags_alone_with_plain_command(q):
    job_id = q.enqueue("echo hi", "--id", "flagged", "--priority", "3", "--max-retries", "0")
    assert job_id == "flagged"
    job = q.by_id()["flagged"]
    assert (job["command"], job["priority"], job["max_retries"]) == ("echo hi", 3, 0)


def test_timeout_aliases(q):
    q.enqueue({"id": "s", "command": "true", "timeout_sec": 4})
    q.enqueue({"id": "ss", "command": "true", "timeout_seconds": 1.5})
    jobs = q.by_id()
    assert jobs["s"]["timeout"] == 4
    assert jobs["ss"]["timeout"] == 1.5


def test_delay_and_run_at_set_the_due_time(q):
    q.enqueue({"id": "d", "command": "true", "delay": 60})
    q.enqueue("true", "--id", "f", "--delay", "120")
    q.enqueue({"id": "r", "command": "true", "run_at": "2030-01-01T12:00:00+02:00"})
    q.enqueue("true", "--id", "z", "--run-at", "2031-05-06T07:08:09.5Z")
    jobs = q.by_id()
    d, f = jobs["d"], jobs["f"]
    assert 59 <= ts(d["run_at"]) - ts(d["created_at"]) <= 61
    assert d["state"] == "pending" and d["next_retry_at"] is None
    assert 119 <= ts(f["run_at"]) - ts(f["created_at"]) <= 121
    assert jobs["r"]["run_at"] == "2030-01-01T10:00:00.000Z"  # normalised to UTC, ms, Z
    assert jobs["z"]["run_at"] == "2031-05-06T07:08:09.500Z"


def test_max_retries_default_comes_from_config_at_enqueue(q):
    q.config_set("max-retries", 5)
    q.enqueue({"id": "five", "command": "true"})
    q.config_set("max-retries", 1)
    q.enqueue({"id": "one", "command": "true"})
    jobs = q.by_id()
    assert jobs["five"]["max_retries"] == 5  # fixed per job at enqueue
    assert jobs["one"]["max_retries"] == 1


def test_json_output_single_object_and_array(q):
    job = q.json("enqueue", '{"id": "j", "command": "true"}', "--json")
    assert isinstance(job, dict)
    assert job["id"] == "j" and job["state"] == "pending"
    for key in JOB_FIELDS:
        assert key in job

    plain = q.json("enqueue", "echo plain", "--json")
    assert isinstance(plain, dict) and plain["command"] == "echo plain"

    many = q.json("enqueue", '[{"id": "x", "command": "true"}, {"id": "y", "command": "true"}]',
                  "--json")
    assert isinstance(many, list)
    assert [j["id"] for j in many] == ["x", "y"]


def test_positional_array_prints_one_id_per_line(q):
    cp = q.ok("enqueue", '[{"id": "p1", "command": "true"}, {"command": "true"}]')
    ids = cp.stdout.splitlines()
    assert len(ids) == 2 and ids[0] == "p1" and ids[1]
    assert [j["id"] for j in q.jobs()] == ids


def test_file_json_lines(q):
    path = q.path("jobs.jsonl")
    path.write_text('{"id": "l1", "command": "true"}\n\n{"id": "l2", "command": "false"}\n')
    assert q.ok("enqueue", "--file", str(path)).stdout.splitlines() == ["l1", "l2"]
    assert [j["command"] for j in q.jobs()] == ["true", "false"]


def test_file_array_and_single_object(q):
    arr = q.path("arr.json")
    arr.write_text(json.dumps([{"id": "a1", "command": "true"}, {"id": "a2", "command": "true"}],
                              indent=2))
    assert q.ok("enqueue", "--file", str(arr)).stdout.splitlines() == ["a1", "a2"]

    one = q.path("one.json")
    one.write_text(json.dumps({"id": "o1", "command": "echo one"}, indent=2))
    assert q.ok("enqueue", "--file", str(one)).stdout.splitlines() == ["o1"]
    assert len(q.jobs()) == 3


def test_file_json_output_is_an_array(q):
    path = q.path("jobs.jsonl")
    path.write_text('{"id": "only", "command": "true"}\n')
    out = q.json("enqueue", "--file", str(path), "--json")
    assert isinstance(out, list) and [j["id"] for j in out] == ["only"]


def test_file_from_stdin_json_lines(q):
    text = "".join(json.dumps({"id": f"s{i}", "command": f"echo {i}"}) + "\n" for i in range(5))
    cp = q.ok("enqueue", "--file", "-", input=text)
    assert cp.stdout.splitlines() == [f"s{i}" for i in range(5)]


def test_file_from_stdin_array(q):
    text = json.dumps([{"id": "sa", "command": "true"}, {"id": "sb", "command": "true"}])
    assert q.ok("enqueue", "--file", "-", input=text).stdout.splitlines() == ["sa", "sb"]


def test_file_from_stdin_single_object(q):
    text = json.dumps({"id": "so", "command": "true"}, indent=4)
    assert q.ok("enqueue", "--file", "-", input=text).stdout.splitlines() == ["so"]
    assert [(j["id"], j["command"]) for j in q.jobs()] == [("so", "true")]


def test_bulk_bad_line_3_creates_nothing(q):
    path = q.path("bad.jsonl")
    path.write_text(
        '{"id": "g1", "command": "true"}\n'
        '{"id": "g2", "command": "true"}\n'
        '{"id": "g3", "command": 5}\n'
        '{"id": "g4", "command": "true"}\n'
    )
    cp = q.run("enqueue", "--file", str(path))
    assert_error(cp, 2, "line 3")
    assert q.jobs() == []


def test_bulk_bad_json_on_line_3_creates_nothing(q):
    text = '{"command": "true"}\n{"command": "true"}\n{"command": "tru\n{"command": "true"}\n'
    cp = q.run("enqueue", "--file", "-", input=text)
    assert_error(cp, 2, "line 3")
    assert q.jobs() == []


def test_bulk_array_names_the_bad_index(q):
    docs = [{"command": "true"}, {"command": "true"}, {"command": "true", "colour": "red"}]
    cp = q.run("enqueue", "--file", "-", input=json.dumps(docs))
    assert_error(cp, 2, "index 2", "colour")
    assert q.jobs() == []

    cp = q.run("enqueue", json.dumps([{"command": "true"}, {"command": "   "}]))
    assert_error(cp, 2, "index 1")
    assert q.jobs() == []


def test_duplicate_id_is_exit_1_and_changes_nothing(q):
    q.enqueue({"id": "dup", "command": "echo first", "priority": 1})
    before = q.jobs()
    cp = q.run("enqueue", json.dumps({"id": "dup", "command": "echo second", "priority": 9}))
    assert_error(cp, 1, "dup")
    assert q.jobs() == before  # the one job, unchanged


def test_bulk_with_an_existing_id_creates_nothing(q):
    q.enqueue({"id": "old", "command": "true"})
    text = '{"id": "new1", "command": "true"}\n{"id": "old", "command": "false"}\n'
    cp = q.run("enqueue", "--file", "-", input=text)
    assert_error(cp, 1, "old")
    assert [(j["id"], j["command"]) for j in q.jobs()] == [("old", "true")]


def test_repeated_id_inside_one_input_creates_nothing(q):
    text = '{"id": "twice", "command": "true"}\n{"id": "twice", "command": "false"}\n'
    cp = q.run("enqueue", "--file", "-", input=text)
    assert cp.returncode in (1, 2), cp  # contract: duplicate id -> 1; input error -> 2
    assert cp.stderr.startswith("error: ") and "Traceback" not in cp.stderr
    assert q.jobs() == []
