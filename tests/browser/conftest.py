"""Browser tests: Playwright for Python driving Debian's chromium (Playwright's own browser
download cannot work on these machines). Without /usr/bin/chromium or playwright they skip
with the reason; under QUEUECTL_TEST_BROWSER_REQUIRED=1 (.ci/run) they fail instead.

``dashboard(*args)`` starts a real `queuectl dashboard` on a free port over a fresh SQLite
store (``seed`` writes to it); ``page_at(width, height)`` is a new page that fails the test on
any JavaScript error or console error (a Content-Security-Policy violation included)."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dashsupport import Dashboard, Seed

CHROMIUM = "/usr/bin/chromium"
REQUIRED_VAR = "QUEUECTL_TEST_BROWSER_REQUIRED"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _unavailable(reason: str) -> None:
    if os.environ.get(REQUIRED_VAR, "") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRED_VAR} is set: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Module-scoped: Playwright's sync API keeps an event loop running in the main thread
    while it is open, which the async tests of later modules must not find there."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"browser tests need {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("browser tests need playwright: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "queue.db")


@pytest.fixture
def seed(db) -> Seed:
    return Seed(db)


@pytest.fixture
def dashboard(db, tmp_path) -> Iterator[Callable[..., Dashboard]]:
    started: list[Dashboard] = []

    def start(*args: str) -> Dashboard:
        server = Dashboard(db, *args, log=tmp_path / f"dashboard-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.stop() == 0, server.stderr()


@pytest.fixture
def page_at(browser) -> Iterator[Callable]:
    contexts, problems = [], []

    def make(width: int = 1280, height: int = 800, scheme: str = "light"):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: msg.type == "error" and not _expected(msg.text)
                and problems.append(f"console: {msg.text}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert problems == []


def _expected(text: str) -> bool:
    """The browser logs every 401/404 response the test asks for on purpose."""
    return "status of 401" in text or "status of 404" in text


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: QUEUECTL_SCREENSHOT_DIR (docs/ when refreshing the README's),
    else the test's tmp_path."""
    return Path(os.environ.get("QUEUECTL_SCREENSHOT_DIR") or tmp_path)
