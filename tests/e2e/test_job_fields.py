"""The Part 2 job fields through the installed executable (CLI.md "More job fields"):
flags and documents, the job object, `show`, and every bad value as exit 2 creating nothing."""

import json

import pytest

from .conftest import assert_error

PART2_FIELDS = ("queue", "batch", "cwd", "env", "unique_key", "after")


def test_defaults_in_every_job_object(q):
    job_id = q.enqueue("true")
    job = q.job(job_id)
    assert job["queue"] == "default" and job["env"] == {} and job["after"] == []
    assert job["unique_key"] is None
    assert job["cwd"] == str(q.tmp)  # the enqueuing process's working directory
    assert job["batch"] and job["batch"] != job_id
    assert all(key in q.jobs()[0] for key in PART2_FIELDS)


def test_flags_set_every_field_on_both_front_doors(q):
    flags = ["--queue", "media", "--batch", "nightly", "--cwd", "/tmp"]
    lean = q.json("enqueue", "true", *flags, "--unique-key", "u1", "--json")  # the lean parser
    full = q.json("enqueue", "true", *flags, "--unique-key", "u2", "--env", "A=1",
                  "--env", "B=two words", "--after", lean["id"], "--json")  # repeatable: typer
    for job, key in ((lean, "u1"), (full, "u2")):
        assert (job["queue"], job["batch"], job["cwd"], job["unique_key"]) == (
            "media", "nightly", "/tmp", key)
    assert lean["env"] == {} and lean["after"] == []
    assert full["env"] == {"A": "1", "B": "two words"} and full["after"] == [lean["id"]]
    assert q.job(full["id"]) | {"history": None} == full | {"history": None}


def test_one_call_is_one_batch_and_naming_a_batch_adds_to_it(q):
    ids = q.enqueue_many([{"command": "true"}, {"command": "false"}])
    batches = {q.job(i)["batch"] for i in ids}
    assert len(batches) == 1
    other = q.enqueue("true")
    assert q.job(other)["batch"] not in batches
    (batch,) = batches
    added = q.enqueue("true", "--batch", batch)
    assert q.job(added)["batch"] == batch


def test_document_fields_and_show(q):
    doc = {"id": "d1", "command": "true", "queue": "q:1", "cwd": "/var", "env": {"X": "a b"},
           "after": [], "unique_key": None}
    q.enqueue(doc)
    job = q.job("d1")
    assert (job["queue"], job["cwd"], job["env"]) == ("q:1", "/var", {"X": "a b"})
    text = q.ok("show", "d1").stdout
    assert "queue         q:1" in text and "env           X='a b'" in text
    assert "after         -" in text


@pytest.mark.parametrize(("args", "fragment"), [
    (["--cwd", "relative"], "cwd must be an absolute path"),
    (["--env", "1BAD=x"], "bad variable name"),
    (["--env", "NOVALUE"], "NAME=VALUE"),
    (["--batch", "no spaces"], "batch must be 1 to 128"),
    (["--batch", "b" * 129], "batch must be 1 to 128"),
    (["--queue", "a/b"], "queue must be 1 to 64"),
    (["--unique-key", "k" * 257], "unique_key must be 1 to 256"),
    (["--after", "has space"], "after"),
])
def test_bad_flags_are_exit_2_and_create_nothing(q, args, fragment):
    assert_error(q.run("enqueue", "true", *args), 2, fragment)
    assert q.jobs() == []


@pytest.mark.parametrize(("fields", "fragment"), [
    ({"cwd": "rel"}, "cwd"),
    ({"env": {"A": 1}}, "env: A must be a string"),
    ({"env": "A=1"}, "env must be an object"),
    ({"batch": "x" * 200}, "batch"),
    ({"queue": ""}, "queue"),
    ({"after": "id"}, "after must be an array"),
])
def test_bad_fields_in_a_file_name_the_line_and_create_nothing(q, fields, fragment):
    text = json.dumps({"command": "true"}) + "\n" + json.dumps({"command": "x"} | fields) + "\n"
    assert_error(q.run("enqueue", "--file", "-", input=text), 2, "line 2", fragment)
    assert q.jobs() == []
