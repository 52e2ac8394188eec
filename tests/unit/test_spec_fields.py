"""spec.py: the Part 2 job fields (queue, batch, cwd, env, unique_key, after) in documents and
flags, their defaults, and every bad value as an exit-2 error naming it."""

import os

import pytest

from queuectl.documents import documents_from_arg, documents_from_file
from queuectl.errors import UsageError
from queuectl.spec import build_job, build_jobs

NOW = 1_800_000_000_000


def build(doc, **flags):
    return build_job(doc, flags, now=NOW)


def many(text, **flags):
    return build_jobs(documents_from_file(text), flags, now=NOW)


def rejects(doc, fragment, **flags):
    with pytest.raises(UsageError) as info:
        build_jobs([("", doc)], flags, now=NOW)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_defaults_queue_a_generated_batch_and_this_directory():
    job = build({"command": "true"})
    assert job.queue == "default" and job.cwd == os.getcwd()
    assert job.env is None and job.unique_key is None and job.after == ()
    assert job.batch and job.batch != job.id


def test_one_enqueue_call_is_one_batch_and_calls_differ():
    first = many('{"command": "a"}\n{"command": "b"}\n')
    second = many('{"command": "c"}\n')
    assert len({j.batch for j in first}) == 1
    assert first[0].batch != second[0].batch


def test_every_field_from_a_document():
    job = build({"command": "true", "queue": "media:hi", "batch": "night.ly-1", "cwd": "/srv",
                 "env": {"A_1": "x y", "_B": ""}, "unique_key": "k", "after": ["p", "q", "p"]})
    assert (job.queue, job.batch, job.cwd, job.env, job.unique_key, job.after) == (
        "media:hi", "night.ly-1", "/srv", {"A_1": "x y", "_B": ""}, "k", ("p", "q"))


def test_flags_override_and_env_and_after_combine():
    job = build({"command": "true", "queue": "a", "env": {"A": "doc", "B": "doc"},
                 "after": ["p"]},
                queue="b", batch="n", cwd="/tmp", env=["A=flag", "C=x=y"], after=["q"],
                unique_key="u")
    assert (job.queue, job.batch, job.cwd, job.unique_key) == ("b", "n", "/tmp", "u")
    assert job.env == {"A": "flag", "B": "doc", "C": "x=y"}
    assert job.after == ("p", "q")


def test_a_document_batch_wins_over_the_generated_one():
    jobs = many('{"command": "a", "batch": "mine"}\n{"command": "b"}\n')
    assert jobs[0].batch == "mine" and jobs[1].batch not in (None, "mine")


def test_null_unique_key_is_none():
    assert build({"command": "true", "unique_key": None}).unique_key is None


@pytest.mark.parametrize(("doc", "flags", "fragment"), [
    ({"cwd": "relative/dir"}, {}, "cwd must be an absolute path"),
    ({}, {"cwd": "."}, "cwd must be an absolute path"),
    ({"cwd": 3}, {}, "cwd must be a string"),
    ({"cwd": "/a\0b"}, {}, "cwd"),
    ({"env": {"1A": "x"}}, {}, "bad variable name '1A'"),
    ({"env": {"A-B": "x"}}, {}, "bad variable name 'A-B'"),
    ({"env": {"": "x"}}, {}, "bad variable name ''"),
    ({"env": {"É": "x"}}, {}, "bad variable name"),
    ({"env": {"A": 1}}, {}, "env: A must be a string, got a number"),
    ({"env": {"A": None}}, {}, "env: A must be a string, got null"),
    ({"env": ["A=1"]}, {}, "env must be an object"),
    ({"env": {"A": "x\0"}}, {}, "env: A"),
    ({}, {"env": ["NOEQUALS"]}, "--env takes NAME=VALUE"),
    ({}, {"env": ["2X=1"]}, "bad variable name '2X'"),
    ({"queue": ""}, {}, "queue must be 1 to 64"),
    ({"queue": "a b"}, {}, "queue must be 1 to 64"),
    ({"queue": "q" * 65}, {}, "queue must be 1 to 64"),
    ({}, {"queue": "é"}, "queue must be 1 to 64"),
    ({"batch": "b" * 129}, {}, "batch must be 1 to 128"),
    ({"batch": "a/b"}, {}, "batch must be 1 to 128"),
    ({}, {"batch": ""}, "batch must be 1 to 128"),
    ({"batch": 7}, {}, "batch must be a string"),
    ({"unique_key": "k" * 257}, {}, "unique_key must be 1 to 256"),
    ({"unique_key": ""}, {}, "unique_key must be 1 to 256"),
    ({"unique_key": 5}, {}, "unique_key must be a string"),
    ({"after": "p"}, {}, "after must be an array"),
    ({"after": [1]}, {}, "after: an id must be a string"),
    ({"after": ["a b"]}, {}, "after: an id must not contain spaces"),
    ({"after": [""]}, {}, "after: an id must be 1 to 128"),
])
def test_bad_values_are_exit_2_naming_the_field(doc, flags, fragment):
    rejects({"command": "true"} | doc, fragment, **flags)


def test_limits_are_inclusive():
    job = build({"command": "true", "queue": "q" * 64, "batch": "b" * 128,
                 "unique_key": "k" * 256})
    assert len(job.queue) == 64 and len(job.batch) == 128 and len(job.unique_key) == 256


def test_a_bad_entry_in_a_file_is_named_by_line():
    with pytest.raises(UsageError, match="^line 2: cwd must be an absolute path"):
        many('{"command": "a"}\n{"command": "b", "cwd": "x"}\n')


def test_a_vanished_working_directory_asks_for_cwd(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(UsageError, match="give --cwd"):
        build_jobs(documents_from_arg("true"), {}, now=NOW)
    assert build_jobs(documents_from_arg("true"), {"cwd": "/"}, now=NOW)[0].cwd == "/"


def test_generated_ids_of_one_call_never_collide(monkeypatch):
    """40 random bits per id: 100,000 ids of one batch collided 1 time in 220; a repeat draw
    is now drawn again instead of failing the whole enqueue."""
    import queuectl.spec as spec

    draws = iter([b"\x00" * 5, b"\x01" * 5 + b"\x00" * 5])  # pop() takes the last first
    monkeypatch.setattr(spec.os, "urandom", lambda n: next(draws))
    ids = spec.IdSource(NOW)
    first, second = ids.next(), ids.next()
    assert first != second and first.endswith("0000000000") and second.endswith("0101010101")
