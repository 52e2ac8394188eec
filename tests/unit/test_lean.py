"""The lean front door accepts a strict subset of the typer forms, and nothing else."""

import pytest

from queuectl.cli import lean


@pytest.mark.parametrize(("args", "expected"), [
    (["enqueue", "echo hi"], ("enqueue", {"job": "echo hi", "db": None})),
    (["--db", "/x.db", "enqueue", "--file", "-", "--json"],
     ("enqueue", {"file": "-", "json_out": True, "db": "/x.db"})),
    (["--db=/x.db", "status"], ("status", {"db": "/x.db"})),
    (["list", "--state", "pending", "--limit", "20", "--json"],
     ("list", {"state": "pending", "limit": 20, "json_out": True, "db": None})),
    (["worker", "start"], ("worker start", {"db": None})),
    (["--db", "/x.db", "worker", "start", "--concurrency", "50", "--drain"],
     ("worker start", {"count": 50, "drain": True, "db": "/x.db"})),
    (["worker", "start", "-c", "2"], ("worker start", {"count": 2, "db": None})),
    (["enqueue", "-p", "3", "-d", "5m", "-q", "x"],
     ("enqueue", {"priority": 3, "delay": "5m", "quiet": True, "job": "x", "db": None})),
    (["list", "-n", "3", "-s", "dead"], ("list", {"limit": 3, "state": "dead", "db": None})),
    (["enqueue", "--each", "gzip {}", "--batch", "b", "--env", "A=1", "--env", "B=2"],
     ("enqueue", {"each": "gzip {}", "batch": "b", "env": ["A=1", "B=2"], "db": None})),
    (["list", "--batch", "b"], ("list", {"batch": "b", "db": None})),
])
def test_the_scripted_forms_are_parsed(args, expected):
    assert lean.parse(args) == expected


@pytest.mark.parametrize("args", [
    [], ["--help"], ["enqueue", "--help"], ["enqueue", "--priority=3", "x"], ["enqueue", "-p3", "x"],
    ["enqueue", "a", "b"], ["enqueue", "--json", "--json", "x"], ["enqueue", "--file"],
    ["list", "--limit", "many"], ["enqueue", "-qp", "3", "x"], ["status", "extra"],
    ["enqueue", "-p", "3", "--priority", "4", "x"], ["--install-completion"], ["--show-completion"],
    ["--debug", "status"], ["enqueue", "--", "-x"], ["worker", "start", "--help"],
    ["worker", "start", "--count", "2", "--concurrency", "3"], ["worker", "stop"],
    ["worker", "start", "--concurrency=4"], ["worker", "start", "--drain", "x"],
    ["list", "--limit", "\u0663"], ["worker", "start", "--count", "\u0662"],  # Arabic-Indic digits
])
def test_everything_else_goes_to_typer(args):
    assert lean.parse(args) is None


def test_a_shell_asking_for_completions_goes_to_typer(monkeypatch):
    monkeypatch.setenv("_QUEUECTL_COMPLETE", "complete_bash")
    assert lean.parse(["status"]) is None
