"""start_detached (queuectl/detach.py) with a worker that cannot start: the caller gets the
reason the worker wrote to its log, exit 1, and nothing stays registered."""

import sys

import pytest

from queuectl.detach import default_log_path, start_detached
from queuectl.errors import QueuectlError, UsageError


def fake_interpreter(tmp_path, body: str):
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


async def test_a_worker_that_dies_before_registering_reports_its_error_line(store, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(sys, "executable", fake_interpreter(
        tmp_path, "echo 'starting up'; echo 'error: store is on fire' >&2; exit 1"))
    log = tmp_path / "w.log"
    with pytest.raises(QueuectlError) as caught:
        await start_detached(store, str(tmp_path / "queue.db"), log_file=str(log))
    assert caught.value.exit_code == 1
    assert str(caught.value) == (f"the worker exited with code 1 before it registered: "
                                 f"store is on fire (log: {log})")
    assert await store.list_workers() == []


async def test_a_worker_that_never_registers_is_stopped_at_the_deadline(store, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(sys, "executable", fake_interpreter(tmp_path, "exec sleep 30"))
    with pytest.raises(QueuectlError, match=r"did not register within 0.5s and was stopped"):
        await start_detached(store, str(tmp_path / "queue.db"), log_file=str(tmp_path / "w.log"),
                             timeout=0.5)


async def test_a_bad_concurrency_is_a_usage_error_before_anything_starts(store, tmp_path):
    with pytest.raises(UsageError):
        await start_detached(store, str(tmp_path / "queue.db"), count=0,
                             log_file=str(tmp_path / "w.log"))
    assert not (tmp_path / "w.log").exists()


def test_default_log_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_log_path("/data/jobs.db") == default_log_path("sqlite:///data/jobs.db")
    assert str(default_log_path("/data/jobs.db")) == "/data/jobs.worker.log"
    assert default_log_path("postgresql://u@h/db") == tmp_path / "state/queuectl/worker.log"
