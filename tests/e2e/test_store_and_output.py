"""Where the data lives (--db, URLs, XDG default, permissions), missing stores, output hygiene."""

import json
import stat
import subprocess

import pytest

from .conftest import ANSI, QUEUECTL, STATES


def _env_without_db(q, **extra):
    env = {k: v for k, v in q.env.items() if k != "QUEUECTL_DB"}
    env.update(extra)
    return env


def test_db_flag_overrides_the_environment(q):
    other = q.new_store("other")
    q.ok("--db", other, "enqueue", '{"id": "via-flag", "command": "true"}')
    assert q.store_exists(other)
    assert q.jobs() == []  # QUEUECTL_DB store untouched
    listed = json.loads(q.ok("--db", other, "list", "--json").stdout)
    assert [j["id"] for j in listed] == ["via-flag"]


def test_env_var_selects_the_store(q):
    assert not q.store_exists()
    q.enqueue({"id": "via-env", "command": "true"})
    assert q.store_exists()


# sqlite_only: sqlite:/// URLs, the default XDG file and its modes exist only for SQLite files
@pytest.mark.sqlite_only
def test_sqlite_url_form(q):
    target = q.tmp / "url.db"
    url = f"sqlite:///{target}"  # absolute path -> four slashes
    assert url.startswith("sqlite:////")
    q.ok("--db", url, "enqueue", '{"id": "u1", "command": "true"}')
    assert target.exists()
    env = dict(q.env, QUEUECTL_DB=url)
    listed = json.loads(q.ok("list", "--json", env=env).stdout)
    assert [j["id"] for j in listed] == ["u1"]
    # the same file, by plain path
    listed = json.loads(q.ok("--db", str(target), "list", "--json").stdout)
    assert [j["id"] for j in listed] == ["u1"]


def _run_with_umask_0(env, *args):
    """Run queuectl with umask 000, so modes must be set explicitly, not inherited."""
    return subprocess.run(
        ["sh", "-c", 'umask 000; exec "$@"', "sh", QUEUECTL, *args],
        capture_output=True, text=True, env=env, timeout=60,
    )


@pytest.mark.sqlite_only
def test_default_store_under_xdg_data_home_with_private_modes(q):
    xdg = q.tmp / "xdg"
    env = _env_without_db(q, XDG_DATA_HOME=str(xdg))
    cp = _run_with_umask_0(env, "enqueue", '{"id": "x", "command": "true"}')
    assert cp.returncode == 0, cp.stderr
    folder = xdg / "queuectl"
    db = folder / "queue.db"
    assert db.is_file()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    cp = _run_with_umask_0(env, "list", "--json")
    assert [j["id"] for j in json.loads(cp.stdout)] == ["x"]


@pytest.mark.sqlite_only
def test_default_store_falls_back_to_home_local_share(q):
    home = q.tmp / "home"
    home.mkdir()
    env = _env_without_db(q, HOME=str(home))
    env.pop("XDG_DATA_HOME")
    cp = subprocess.run([QUEUECTL, "status"], capture_output=True, text=True, env=env, timeout=60)
    assert cp.returncode == 0, cp.stderr
    db = home / ".local" / "share" / "queuectl" / "queue.db"
    assert db.is_file()
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


# command, expected exit, expected JSON (None: not a JSON command)
MISSING_STORE = {
    "status": (["status"], 0, None),
    "status --json": (["status", "--json"], 0, "status"),
    "list": (["list"], 0, None),
    "list --json": (["list", "--json"], 0, []),
    "list --state dead --json": (["list", "--state", "dead", "--json"], 0, []),
    "worker list": (["worker", "list"], 0, None),
    "worker list --json": (["worker", "list", "--json"], 0, []),
    "worker stop": (["worker", "stop", "--timeout", "1"], 0, None),
    "worker start --drain": (["worker", "start", "--drain"], 0, None),
    "dlq list": (["dlq", "list"], 0, None),
    "dlq list --json": (["dlq", "list", "--json"], 0, []),
    "dlq retry --all": (["dlq", "retry", "--all"], 0, None),
    "config list": (["config", "list"], 0, None),
    "config list --json": (["config", "list", "--json"], 0, "config"),
    "config get": (["config", "get"], 0, None),
    "config get key": (["config", "get", "max-retries"], 0, None),
    "show": (["show", "nosuch"], 1, None),
    "logs": (["logs", "nosuch"], 1, None),
    "enqueue": (["enqueue", "true"], 0, None),
}


@pytest.mark.parametrize("args, code, expected", MISSING_STORE.values(), ids=MISSING_STORE.keys())
def test_every_command_works_against_a_missing_store(q, args, code, expected):
    assert not q.store_exists()  # PostgreSQL: the URL's schema does not exist yet
    cp = q.run(*args, timeout=30)
    assert cp.returncode == code, cp
    assert "Traceback" not in cp.stderr
    if code:
        assert cp.stderr.startswith("error: ")
    if expected is None:
        return
    doc = json.loads(cp.stdout)
    if expected == "status":
        assert doc["jobs"] == {**dict.fromkeys(STATES, 0), "total": 0}
        assert doc["dlq"] == 0
        assert doc["workers"] == []
    elif expected == "config":
        assert doc["max-retries"] == 3
    else:
        assert doc == expected


# sqlite_only: a folder is created for a new SQLite file; PostgreSQL has no folder
@pytest.mark.sqlite_only
def test_missing_store_in_a_missing_folder_is_created(q):
    db = q.tmp / "a" / "b" / "q.db"
    cp = q.run("--db", str(db), "status")
    assert cp.returncode == 0, cp.stderr
    assert db.exists()


@pytest.fixture(scope="module")
def populated(shared_q):
    """A store with a completed job (with output), a dead one, and a pending one."""
    q = shared_q
    q.enqueue({"id": "ok", "command": "echo out; echo err >&2"})
    q.enqueue({"id": "bad", "command": "exit 3", "max_retries": 0})
    q.drain()
    q.enqueue({"id": "later", "command": "true", "delay": 3600})
    return q


JSON_COMMANDS = {
    "status": ["status", "--json"],
    "list": ["list", "--json"],
    "list --state": ["list", "--state", "completed", "--json"],
    "list --limit": ["list", "--limit", "1", "--json"],
    "show": ["show", "ok", "--json"],
    "dlq list": ["dlq", "list", "--json"],
    "worker list": ["worker", "list", "--json"],
    "config list": ["config", "list", "--json"],
    "enqueue": ["enqueue", "echo more", "--json"],
    "enqueue --file": ["enqueue", "--file", "-", "--json"],
}


def test_json_stdout_is_exactly_one_document(populated):
    for args in JSON_COMMANDS.values():
        stdin = '{"command": "true"}\n' if "--file" in args else None
        cp = populated.ok(*args, input=stdin)
        json.loads(cp.stdout)  # raises on extra data, logs or banners on stdout


HUMAN_COMMANDS = [
    ["status"], ["list"], ["show", "bad"], ["dlq", "list"], ["worker", "list"],
    ["config", "list"], ["list", "--state", "bogus"], ["enqueue", "{"],
]


def on_a_terminal(q, *args: str, env: dict[str, str]) -> str:
    """Run with stdout on a pseudo-terminal (where colour is allowed); what it printed on
    stdout and stderr."""
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([QUEUECTL, *args], stdout=terminal, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=env, timeout=60, cwd=q.tmp)
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    return (b"".join(chunks) + proc.stderr).decode(errors="replace")


def test_colour_on_a_terminal_and_none_with_no_color(populated):
    colour_env = {k: v for k, v in populated.env.items() if k != "NO_COLOR"}
    assert ANSI.search(on_a_terminal(populated, "status", env=colour_env))  # the test can fail
    for args in HUMAN_COMMANDS:
        assert not ANSI.search(on_a_terminal(populated, *args, env=populated.env)), args


def test_no_ansi_escapes_when_piped_even_without_no_color(populated):
    env = {k: v for k, v in populated.env.items() if k != "NO_COLOR"}
    env.update(TERM="xterm-256color", COLUMNS="120")
    for args in HUMAN_COMMANDS:
        cp = populated.run(*args, env=env)
        assert not ANSI.search(cp.stdout), (args, cp.stdout)
        assert not ANSI.search(cp.stderr), (args, cp.stderr)


def test_human_output_mentions_what_matters(populated):
    q = populated
    status = q.ok("status").stdout.lower()
    for state in STATES:
        assert state in status
    listing = q.ok("list").stdout
    for job_id in ("ok", "bad", "later"):
        assert job_id in listing
    show = q.ok("show", "bad").stdout
    assert "bad" in show and "dead" in show
    assert "bad" in q.ok("dlq", "list").stdout
    assert "max-retries" in q.ok("config", "list").stdout
