"""`queuectl tui`, the installed executable, in a real pseudo-terminal (80x24), against a store
being worked by a real worker; the screen is read through a terminal emulator (pyte)."""

import os
import re

import pytest

from .conftest import QUEUECTL, assert_error, wait_until
from .terminal import Terminal

SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def count_on_screen(text: str, state: str) -> int | None:
    found = re.search(rf"^ {state}\s+([\d,]+)", text, re.M)
    return int(found[1].replace(",", "")) if found else None


def colours(raw: bytes) -> set[int]:
    """Every 256-colour index the program set (38;5;N foreground, 48;5;N background)."""
    found = set()
    for params in SGR.findall(raw):
        parts = params.split(b";")
        found |= {int(parts[i + 2]) for i in range(len(parts) - 2)
                  if parts[i] in (b"38", b"48") and parts[i + 1] == b"5"}
    return found


GREYS = set(range(232, 256)) | {0, 7, 8, 15, 16, 231}


@pytest.fixture
def worked_store(q, workers):
    """3 completed jobs, 1 dead, 1 processing (sleeping) under a live worker."""
    for n in range(1, 4):
        q.enqueue({"id": f"ok-{n}", "command": f"echo job {n}"})
    q.enqueue({"id": "bad", "command": "exit 3", "max_retries": 0})
    q.enqueue({"id": "slow", "command": "sleep 60", "priority": -1})
    worker = workers.start("--concurrency", "2")
    wait_until(lambda: {j["id"]: j["state"] for j in q.jobs()} == {
        "ok-1": "completed", "ok-2": "completed", "ok-3": "completed", "bad": "dead",
        "slow": "processing"}, 30, 0.2, "the worker to reach the expected states")
    return worker


@pytest.mark.slow
@pytest.mark.parametrize("colour", ["256", "NO_COLOR"])
def test_tui_in_a_pty_shows_the_live_store_and_q_restores_the_terminal(q, worked_store, colour):
    env = q.env | {"TERM": "xterm-256color"}
    env.pop("NO_COLOR")
    env.pop("COLORTERM", None)
    if colour == "NO_COLOR":
        env["NO_COLOR"] = "1"
    term = Terminal([QUEUECTL, "tui"], env=env, cwd=q.tmp, size=(80, 24))
    try:
        screen = term.wait_for("1 Overview", "q Quit", "1 worker(s), 1 job(s) running")
        assert [count_on_screen(screen, s) for s in
                ("pending", "processing", "completed", "failed", "dead", "total")] == [
            0, 1, 3, 0, 1, 5], screen
        snapshot = os.environ.get("QUEUECTL_TUI_SNAPSHOT")
        if snapshot and colour == "256":  # the README's picture of the main screen
            with open(snapshot, "w") as f:
                f.write(screen + "\n")
        term.press("3")
        screen = term.wait_for("DLQ (r: retry", "exit code 3")
        assert re.search(r"^ bad\s+dead\s+1", screen, re.M), screen
        term.press("q")
        assert term.wait_exit() == 0
    finally:
        term.close()
    raw = bytes(term.raw)
    assert raw.rindex(b"\x1b[?1049l") > raw.rindex(b"\x1b[?1049h")  # left the alternate screen
    assert raw.rindex(b"\x1b[?25h") > raw.rindex(b"\x1b[?1049h")  # cursor shown again
    used = colours(raw)
    if colour == "NO_COLOR":
        assert used <= GREYS, sorted(used - GREYS)
    else:
        assert used - GREYS, "no colour at all on a 256-colour terminal"


def test_tui_without_textual_says_how_to_install_it(q):
    shadow = q.path("no-textual/textual")
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('textual is not installed')\n")
    cp = q.run("tui", env=q.env | {"PYTHONPATH": str(shadow.parent)})
    assert_error(cp, 1, "pip install 'queuectl[tui]'")


def test_tui_without_a_terminal_is_exit_1(q):
    assert_error(q.run("tui"), 1, "needs a terminal")
