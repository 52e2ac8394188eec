"""runner.run_command with real processes: exit codes, capture, timeouts, cancellation."""

import asyncio
import contextlib
import gc
import os
import signal
import time
import warnings

import pytest

from queuectl.runner import run_command

from .procs import alive, group_alive, wait_dead, wait_for_pid


async def run(command, *, timeout=None, output_limit=1 << 20, kill_grace=0.2, on_spawn=None):
    return await run_command(command, timeout=timeout, output_limit=output_limit,
                             kill_grace=kill_grace, on_spawn=on_spawn)


async def test_success_captures_both_streams():
    res = await run("echo out; echo err >&2")
    assert (res.exit_code, res.error, res.ok) == (0, None, True)
    assert (res.stdout, res.stderr) == (b"out\n", b"err\n")
    assert res.started_at <= res.finished_at and res.duration >= 0


async def test_nonzero_exit():
    res = await run("exit 3")
    assert (res.exit_code, res.error, res.ok) == (3, "exit code 3", False)


async def test_command_not_found_is_127():
    res = await run("definitely-not-a-command-q7x")
    assert (res.exit_code, res.error) == (127, "exit code 127 (command not found)")
    assert b"not found" in res.stderr


async def test_killed_by_a_signal_is_128_plus_n():
    res = await run("kill -TERM $$")
    assert (res.exit_code, res.error) == (143, "killed by signal 15 (SIGTERM)")


async def test_stdin_is_empty():
    res = await run("cat; echo done")
    assert res.exit_code == 0 and res.stdout == b"done\n"


async def test_on_spawn_gets_the_shell_pid_which_leads_the_group():
    pids = []
    res = await run("echo $$; ps -o pgid= -p $$", on_spawn=pids.append)
    shell_pid, pgid = (int(x) for x in res.stdout.split())
    assert pids == [shell_pid] and pgid == shell_pid


async def test_timeout_kills_a_grandchild(tmp_path):
    gc = tmp_path / "gc.pid"
    t0 = time.monotonic()
    res = await run(f"sleep 30 & echo $! > {gc}; wait", timeout=0.3)
    assert (res.exit_code, res.error) == (None, "timed out after 0.3s")
    assert time.monotonic() - t0 < 5
    assert await wait_dead(int(gc.read_text()))


async def test_a_process_that_ignores_term_is_killed_after_the_grace(tmp_path):
    gc = tmp_path / "gc.pid"
    command = f"sh -c 'trap \"\" TERM; echo $$ > {gc}; while :; do sleep 0.05; done' & wait"
    res = await run(command, timeout=0.3, kill_grace=0.3)
    assert res.error == "timed out after 0.3s"
    assert await wait_dead(int(gc.read_text()))


async def test_leftovers_in_the_group_are_killed_when_the_shell_exits(tmp_path):
    gc = tmp_path / "gc.pid"
    res = await run(f"sleep 30 >/dev/null 2>&1 & echo $! > {gc}")
    assert res.exit_code == 0
    assert await wait_dead(int(gc.read_text()))


async def test_cancellation_kills_the_group(tmp_path):
    shell, gc = tmp_path / "shell.pid", tmp_path / "gc.pid"
    spawned = asyncio.Event()
    task = asyncio.create_task(run(f"echo $$ > {shell}; sleep 30 & echo $! > {gc}; wait",
                                   on_spawn=lambda pid: spawned.set()))
    await asyncio.wait_for(spawned.wait(), 10)  # the runner owns the process from here on
    shell_pid, gc_pid = await wait_for_pid(shell), await wait_for_pid(gc)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not group_alive(shell_pid)
    assert await wait_dead(gc_pid)


async def test_cancels_during_the_group_kill_do_not_cut_it_short(tmp_path):
    """A hard stop's kill waits `kill_grace` for a job that traps TERM; more cancels meanwhile
    (more signals) must neither return early nor leave the group alive."""
    shell, gc = tmp_path / "shell.pid", tmp_path / "gc.pid"
    task = asyncio.create_task(run(
        f"echo $$ > {shell}; trap 'sleep 8; exit 0' TERM; sleep 30 & echo $! > {gc}; wait",
        kill_grace=1.0))
    shell_pid, gc_pid = await wait_for_pid(shell), await wait_for_pid(gc)
    for _ in range(10):  # the first cancel starts the kill; the rest land inside its grace
        task.cancel()
        await asyncio.sleep(0.03)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not group_alive(shell_pid)
    assert not alive(gc_pid)


async def test_a_cancel_while_asyncio_connects_the_pipes_is_prompt(tmp_path, monkeypatch):
    """Pipe connection takes a few loop iterations (longer on a busy loop); widen that window
    so a child exists inside it, as it does when a hard stop lands just after a spawn."""
    from asyncio import base_subprocess

    connect = base_subprocess.BaseSubprocessTransport._connect_pipes

    async def slow_connect(self, waiter):
        await asyncio.sleep(0.3)
        await connect(self, waiter)

    monkeypatch.setattr(base_subprocess.BaseSubprocessTransport, "_connect_pipes", slow_connect)
    gc = tmp_path / "gc.pid"
    task = asyncio.create_task(run(f"sleep 2.5 & echo $! > {gc}; wait"))
    gc_pid = await wait_for_pid(gc)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert time.monotonic() - t0 < 1.5, "the cancel waited for the job's child to exit"
    assert not alive(gc_pid)


async def test_a_50_mb_flood_stays_bounded():
    limit = 64 * 1024
    flood = 50 * 1024 * 1024
    res = await run(f"head -c {flood} /dev/zero & head -c 5000000 /dev/zero >&2; wait",
                    output_limit=limit)
    assert res.exit_code == 0
    out_marker = f"\n[queuectl: {flood - limit} bytes truncated]\n".encode()
    err_marker = f"\n[queuectl: {5_000_000 - limit} bytes truncated]\n".encode()
    assert len(res.stdout) == limit + len(out_marker) and out_marker in res.stdout
    assert len(res.stderr) == limit + len(err_marker) and err_marker in res.stderr


async def test_a_setsid_daemon_holding_stdout_does_not_hang_a_timed_out_attempt(tmp_path):
    daemon = tmp_path / "daemon.pid"
    command = f"setsid sh -c 'echo $$ > {daemon}; exec sleep 30' & sleep 30"
    t0 = time.monotonic()
    try:
        res = await run(command, timeout=0.3)
        elapsed = time.monotonic() - t0
        assert res.error == "timed out after 0.3s"
        assert elapsed < 2.5, elapsed
        assert b"holds the pipes" in res.stderr
    finally:
        pid = await wait_for_pid(daemon)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await wait_dead(pid)
    assert not alive(pid)


async def test_a_command_longer_than_an_argv_string_runs():
    res = await run("echo ok # " + "x" * 200_000)
    assert (res.exit_code, res.stdout) == (0, b"ok\n")


async def test_a_timeout_leaves_no_unclosed_scandir_iterator():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await run("trap '' TERM; sleep 30", timeout=0.2, kill_grace=0.1)  # lives through TERM
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


async def test_the_command_gets_the_environment_update():
    res = await run_command('echo "$QUEUECTL_TEST_GREETING"', timeout=None, output_limit=100,
                            kill_grace=0.2, env_update={"QUEUECTL_TEST_GREETING": "hello"})
    assert res.stdout == b"hello\n"


async def test_end_tagged_groups_kills_only_the_tagged_process_groups(eventually):
    import subprocess

    from queuectl.procgroups import end_tagged_groups

    def spawn(tag):
        return subprocess.Popen(["sh", "-c", "sleep 30 & wait"], start_new_session=True,
                                env={**os.environ, "QUEUECTL_TEST_TAG": tag})

    tagged, other = spawn("doomed"), spawn("spared")
    try:
        await eventually(lambda: group_alive(tagged.pid) and group_alive(other.pid))
        assert await end_tagged_groups(["QUEUECTL_TEST_TAG"], [("doomed",)]) == 1
        assert not group_alive(tagged.pid)  # gone when it returns, not some time later
        assert group_alive(other.pid)
    finally:
        for proc in (tagged, other):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()


# -- where and with what a command runs (Part 2: cwd, env) ---------------------------------


async def test_runs_in_the_given_directory(tmp_path):
    res = await run_command("pwd", timeout=None, output_limit=1 << 20, kill_grace=0.2,
                            cwd=str(tmp_path))
    assert res.ok and res.stdout.decode().strip() == str(tmp_path)


async def test_a_missing_directory_fails_before_spawning(tmp_path):
    marker = tmp_path / "ran"
    res = await run_command(f"touch {marker}", timeout=None, output_limit=1 << 20,
                            kill_grace=0.2, cwd=str(tmp_path / "gone"))
    assert (res.exit_code, res.error) == (None, f"cwd not found: {tmp_path / 'gone'}")
    assert not marker.exists()


async def test_extra_env_reaches_only_that_command_and_tags_win():
    res = await run_command('printf "%s|%s|%s" "$GREETING" "$QUEUECTL_JOB_ID" "$HOME"',
                            timeout=None, output_limit=1 << 20, kill_grace=0.2,
                            env_update={"QUEUECTL_JOB_ID": "real"},
                            extra_env={"GREETING": "héllo wörld", "QUEUECTL_JOB_ID": "fake"})
    assert res.stdout.decode() == f"héllo wörld|real|{os.environ.get('HOME', '')}"
    assert "GREETING" not in os.environ
    after = await run('printf "%s" "${GREETING-unset}"')
    assert after.stdout == b"unset"


async def test_an_abort_stops_the_group_and_keeps_the_output_so_far(tmp_path):
    gc = tmp_path / "gc.pid"
    abort = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(run_command(
        f"echo before; sleep 30 & echo $! > {gc}; wait", timeout=None, output_limit=1 << 20,
        kill_grace=0.2, abort=abort))
    grandchild = await wait_for_pid(gc)
    abort.set_result("cancelled")
    res = await asyncio.wait_for(task, 5)
    assert (res.exit_code, res.error, res.ok) == (None, "cancelled", False)
    assert res.stdout == b"before\n"
    await wait_dead(grandchild)


async def test_an_abort_after_the_exit_changes_nothing():
    abort = asyncio.get_running_loop().create_future()
    res = await run_command("echo done", timeout=None, output_limit=100, kill_grace=0.2,
                            abort=abort)
    abort.set_result("cancelled")
    assert (res.exit_code, res.error, res.stdout) == (0, None, b"done\n")


async def test_captures_given_by_the_caller_fill_while_the_command_runs(tmp_path):
    from queuectl.runner import Capture

    out, err = Capture(100), Capture(100)
    flag = tmp_path / "go"
    task = asyncio.ensure_future(run_command(
        f"echo first; echo oops >&2; while [ ! -e {flag} ]; do sleep 0.01; done; echo last",
        timeout=None, output_limit=0, kill_grace=0.2, captures=(out, err)))
    while out.total < 6 or err.total < 5:
        await asyncio.sleep(0.01)
    assert out.unsent() == [(0, b"first\n")] and err.unsent() == [(0, b"oops\n")]
    flag.touch()
    res = await asyncio.wait_for(task, 5)
    assert res.stdout == b"first\nlast\n" and out.unsent() == [(6, b"last\n")]
