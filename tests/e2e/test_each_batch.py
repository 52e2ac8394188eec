"""`enqueue --each TEMPLATE` and `list --batch B` through the installed executable."""

import json

import pytest

from .conftest import assert_error


def test_each_line_is_one_job_shell_quoted_in_one_batch(q):
    lines = "a.log\n\nit's here.log\n$(touch pwned)\n   \nlast\n"
    jobs = q.json("enqueue", "--each", "printf '%s|' {} {#}", "--priority", "3", "--json",
                  input=lines)
    assert [j["command"] for j in jobs] == [
        "printf '%s|' a.log 1", "printf '%s|' 'it'\"'\"'s here.log' 2",
        "printf '%s|' '$(touch pwned)' 3", "printf '%s|' last 4"]
    assert len({j["batch"] for j in jobs}) == 1 and all(j["priority"] == 3 for j in jobs)
    q.drain()
    outputs = [q.ok("logs", j["id"]).stdout for j in jobs]
    assert outputs == ["a.log|1|", "it's here.log|2|", "$(touch pwned)|3|", "last|4|"]
    assert not (q.tmp / "pwned").exists()


def test_each_reads_a_file_and_prints_ids(q):
    source = q.path("names.txt")
    source.write_text("x\ny\n")
    cp = q.ok("enqueue", "--each", "echo {}", "--file", str(source), "--batch", "files")
    ids = cp.stdout.splitlines()
    assert len(ids) == 2
    assert [j["id"] for j in q.jobs("--batch", "files")] == ids


@pytest.mark.parametrize(("args", "stdin", "fragment"), [
    (["--each", "echo {}"], "", "no lines"),
    (["--each", "echo {}"], "\n  \n\n", "no lines"),
    (["--each", "echo {}"], '{"command": "true"}\n', "JSON"),
    (["--each", "echo {}"], '[{"command": "true"}]\n', "JSON"),
    (["--each", "echo {}", "some job"], "a\n", "give no JOB"),
    (["--each", "echo {}", "--id", "x"], "a\nb\n", "--id"),
])
def test_each_bad_input_is_exit_2_and_creates_nothing(q, args, stdin, fragment):
    assert_error(q.run("enqueue", *args, input=stdin), 2, fragment)
    assert q.jobs() == []


def test_each_with_a_json_file_is_exit_2(q):
    source = q.path("jobs.jsonl")
    source.write_text(json.dumps({"command": "true"}) + "\n")
    assert_error(q.run("enqueue", "--each", "echo {}", "--file", str(source)), 2, "JSON")
    assert q.jobs() == []


def test_list_batch_shows_only_that_batch_in_enqueue_order(q):
    first = q.ok("enqueue", "--file", "-", "--batch", "nightly",
                 input='{"command": "true"}\n{"command": "false"}\n').stdout.split()
    q.enqueue("true")  # another batch
    added = q.enqueue("true", "--batch", "nightly")
    assert [j["id"] for j in q.jobs("--batch", "nightly")] == [*first, added]
    assert [j["id"] for j in q.jobs("--batch", "nightly", "--state", "pending", "--limit", "2")
            ] == first
    text = q.ok("list", "--batch", "nightly").stdout
    assert all(i in text for i in first)
    assert q.jobs("--batch", "none-such") == []
