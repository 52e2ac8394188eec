"""A spawn that fails: for a reason of the worker's (descriptors, processes, memory) the job goes
back to pending uncharged; for a reason of the job's it is a failed attempt. Failures are
injected at the spawn (runner._spawn, os.pidfd_open) or by a runner with a limit of its own."""

import asyncio
import errno
import os
import re

import pytest

from queuectl import runner
from queuectl.childwatch import ResilientPidfdWatcher
from queuectl.jobs import RunResult
from queuectl.runner import NotStarted, run_command
from queuectl.timeutil import now_ms

from .test_engine import drain, insert, job

WORKER_ERRNOS = [errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM]


async def run(command):
    return await run_command(command, timeout=None, output_limit=1 << 16, kill_grace=0.2)


def refuse_spawns(monkeypatch, code, times=None):
    """Make runner._spawn fail with `code` (the first `times` calls, or all); returns a counter."""
    real, calls = runner._spawn, {"refused": 0}

    async def spawn(*args, **kwargs):
        if times is None or calls["refused"] < times:
            calls["refused"] += 1
            raise OSError(code, os.strerror(code))
        return await real(*args, **kwargs)

    monkeypatch.setattr(runner, "_spawn", spawn)
    return calls


# -- the runner -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", WORKER_ERRNOS, ids=errno.errorcode.get)
async def test_a_spawn_refused_for_the_workers_reason_is_not_started(monkeypatch, code):
    refuse_spawns(monkeypatch, code)
    with pytest.raises(NotStarted) as caught:
        await run("true")
    assert caught.value.reason == os.strerror(code)


@pytest.mark.parametrize("code", [errno.ENOENT, errno.EACCES, errno.E2BIG], ids=errno.errorcode.get)
async def test_a_spawn_refused_for_the_jobs_reason_is_a_failed_attempt(monkeypatch, code):
    refuse_spawns(monkeypatch, code)
    res = await run("true")
    assert (res.ok, res.exit_code, res.error) == (False, None, f"could not start: {os.strerror(code)}")


async def test_a_long_command_whose_script_cannot_be_written_for_lack_of_descriptors(monkeypatch):
    def no_descriptor(*args, **kwargs):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(runner.tempfile, "mkstemp", no_descriptor)
    with pytest.raises(NotStarted):
        await run("true " + "x" * runner.INLINE_COMMAND_LIMIT)


@pytest.fixture
async def resilient_watcher():
    """The worker's child watcher on the test's loop (asyncio 3.11's watcher API)."""
    previous = asyncio.get_child_watcher()
    watcher = ResilientPidfdWatcher()
    watcher.attach_loop(asyncio.get_running_loop())
    asyncio.set_child_watcher(watcher)
    yield watcher
    asyncio.set_child_watcher(previous)
    previous.attach_loop(asyncio.get_running_loop())


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd (Linux)")
async def test_a_child_whose_pidfd_cannot_open_is_still_reaped_and_reported(
        monkeypatch, resilient_watcher):
    """asyncio opens the pidfd after the fork: the job already runs. It must end as usual,
    not look like a spawn failure (that would hand back a running job)."""
    def no_descriptor(pid):
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(os, "pidfd_open", no_descriptor)
    res = await asyncio.wait_for(run("echo ran; exit 3"), 10)
    assert (res.exit_code, res.stdout) == (3, b"ran\n")
    assert resilient_watcher._callbacks == {}


# -- the engine -------------------------------------------------------------------------------


def limited_runner(limit, *, delay=0.02):
    """An in-process runner that refuses, like a worker out of descriptors, to run more than
    `limit` commands at once; counts what it ran, refused and the most it ran at once."""
    stats = {"running": 0, "most": 0, "refused": 0, "ran": []}

    async def run(command, *, timeout, output_limit, kill_grace, on_spawn=None, env_update=None,
                  **job_context):
        if stats["running"] >= limit:
            stats["refused"] += 1
            raise NotStarted("Too many open files")
        stats["running"] += 1
        stats["most"] = max(stats["most"], stats["running"])
        started = now_ms()
        try:
            await asyncio.sleep(delay)
        finally:
            stats["running"] -= 1
        stats["ran"].append(command)
        return RunResult(0, None, started, now_ms(), delay)

    run.stats = stats
    return run


def handed_back(lines):
    """Jobs counted by the engine's `could not start N job(s)` lines."""
    return sum(int(m.group(1)) for line in lines
               if (m := re.search(r"could not start (\d+) job\(s\)", line)))


async def test_jobs_the_worker_could_not_start_go_back_uncharged_and_run_once(store):
    await insert(store, *[job(f"j{i}", f"cmd {i}", max_retries=0) for i in range(20)])
    run = limited_runner(3)
    code, eng = await drain(store, concurrency=8, runner=run)
    assert code == 0
    assert sorted(run.stats["ran"]) == sorted(f"cmd {i}" for i in range(20))
    for i in range(20):
        done = await store.get_job(f"j{i}")
        assert (done.state, done.attempts) == ("completed", 1)
        assert [(a.n, a.error) for a in await store.attempts(f"j{i}")] == [(1, None)]
    # The first claim of 8 started 3: one refusal, the 4 behind it handed back without trying,
    # then the ceiling (3) holds: no more refusals.
    assert (run.stats["refused"], handed_back(eng.lines), run.stats["most"]) == (1, 5, 3)
    assert not [line for line in eng.lines if line.split()[1] in ("failed", "dead")]


async def test_a_spawn_refused_with_emfile_is_handed_back_and_runs_later(store, monkeypatch):
    calls = refuse_spawns(monkeypatch, errno.EMFILE, times=1)
    await insert(store, job("a", "echo a", max_retries=0), job("b", "echo b", max_retries=0))
    code, eng = await drain(store, concurrency=1)
    assert (code, calls["refused"], handed_back(eng.lines)) == (0, 1, 1)
    assert [line for line in eng.lines if "could not start" in line][0].endswith(
        "could not start 1 job(s): Too many open files (a limit of this worker, not of the "
        "jobs); back to pending without using an attempt; claiming paused 0.25s, then at most "
        "1 jobs at once for 5s")
    for job_id in "ab":
        done = await store.get_job(job_id)
        assert (done.state, done.attempts) == ("completed", 1)
        assert (await store.output(job_id, None)).stdout == f"{job_id}\n".encode()


async def test_a_job_that_cannot_be_executed_is_a_failed_attempt(store, monkeypatch):
    refuse_spawns(monkeypatch, errno.EACCES)
    await insert(store, job("a", "true", max_retries=0))
    code, eng = await drain(store, concurrency=1)
    dead = await store.get_job("a")
    assert (code, dead.state, dead.attempts) == (0, "dead", 1)
    assert dead.last_error == "could not start: Permission denied"
    assert handed_back(eng.lines) == 0
