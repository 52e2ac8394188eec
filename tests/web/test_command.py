"""`queuectl dashboard` through the installed executable: bad options, a taken port, the missing
extra, the generated token, server-sent events over a real socket, and a clean Ctrl-C."""

import json
import socket
import subprocess
import sys
import time

import httpx2 as httpx
import pytest
from clisupport import QUEUECTL
from dashsupport import Dashboard

from queuectl.jobs import JobState


def run(*args, db):
    return subprocess.run([QUEUECTL, "--db", db, *args], capture_output=True, text=True,
                          timeout=30)


def assert_error(cp, code, fragment):
    assert cp.returncode == code, cp
    assert cp.stderr.startswith("error: ") and cp.stderr.count("\n") == 1, cp.stderr
    assert fragment in cp.stderr and "Traceback" not in cp.stderr and cp.stdout == ""


@pytest.mark.parametrize(("args", "fragment"), [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--port", "-1"], "--port must be between 0 and 65535"),
    (["--token", "short"], "--token must be at least 8"),
    (["--token", "has space in it"], "--token must be at least 8"),
    (["--host", ""], "--host is empty"),
])
def test_bad_options_are_exit_2(sqlite_db, args, fragment):
    assert_error(run("dashboard", *args, db=sqlite_db), 2, fragment)


def test_a_taken_port_is_exit_1(sqlite_db):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cp = run("dashboard", "--port", str(port), db=sqlite_db)
    assert_error(cp, 1, f"cannot listen on 127.0.0.1:{port}")


def test_without_the_web_extra_one_line_says_how_to_install_it(sqlite_db):
    code = ("import sys; sys.modules['starlette'] = None\n"
            "from queuectl.cli.entry import main; main(['--db', sys.argv[1], 'dashboard'])")
    cp = subprocess.run([sys.executable, "-c", code, sqlite_db], capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode == 1
    assert cp.stderr == "error: the dashboard needs the web extra: pip install 'queuectl[web]'\n"


def test_one_shot_commands_never_import_the_web_stack(sqlite_db):
    """P5: status (lean path) and config list (typer path) load no part of the dashboard."""
    code = ("import sys; from queuectl.cli.entry import _run\n"
            "for args in (['status'], ['config', 'list'], ['dlq', 'list']):\n"
            "    _run(['--db', sys.argv[1], *args], False)\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('starlette', 'uvicorn', 'jinja2', 'httpx', 'anyio') or m.startswith('queuectl.web')]\n"
            "print(heavy, file=sys.stderr); sys.exit(1 if heavy else 0)")
    cp = subprocess.run([sys.executable, "-c", code, sqlite_db], capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr


def test_a_store_that_cannot_open_is_one_error_line(tmp_path):
    bad = tmp_path / "not-a-store.db"
    bad.write_text("hello, I am not SQLite" * 100)
    assert_error(run("dashboard", "--port", "0", db=str(bad)), 1, "not a queuectl store")


def test_a_non_local_host_gets_a_generated_token(sqlite_db, tmp_path):
    server = Dashboard(sqlite_db, "--host", "0.0.0.0", log=tmp_path / "dash.log")
    try:
        assert server.token and len(server.token) >= 24
        assert "generated token" in server.first_line
        url = server.url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(url + "/api/status").status_code == 401
        assert httpx.get(url + "/metrics").status_code == 401
        authorized = {"Authorization": f"Bearer {server.token}"}
        assert httpx.get(url + "/api/status", headers=authorized).status_code == 200
    finally:
        assert server.stop() == 0


def test_events_stream_the_status_when_it_changes(db, seed, tmp_path):
    """Over a real socket, on both backends: a status event at once, another after a change."""
    seed.add("a")
    server = Dashboard(db, log=tmp_path / "dash.log")
    try:
        with httpx.stream("GET", server.url + "/api/events", timeout=20) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = status_events(response.iter_lines())
            first = next(events)
            assert first["jobs"]["pending"] == 1 and first["jobs"]["completed"] == 0
            started = time.monotonic()
            seed.attempt("a", state=JobState.COMPLETED)
            second = next(events)
            assert second["jobs"]["completed"] == 1 and second["jobs"]["pending"] == 0
            assert time.monotonic() - started < 2.5  # "at least every 2 s while anything changes"
    finally:
        assert server.stop() == 0


def status_events(lines):
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: ") and event == "status":
            yield json.loads(line[len("data: "):])
