"""The TUI driven by Textual's headless pilot, on a real store of each backend."""

import contextlib

import pytest

from queuectl.store import open_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        opened = await open_store(str(tmp_path / "queue.db"))
    else:  # a fresh schema; skips without QUEUECTL_TEST_PG_DSN (fails in CI)
        from store.pg_support import new_store_url

        opened = await open_store(await new_store_url(request))
    yield opened
    await opened.close()


@pytest.fixture
def ui(store, tmp_path, monkeypatch):
    """ui() -> an async context manager giving a Pilot on an 80x24 app over `store`."""
    from queuectl.tui.app import QueueApp

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # default worker log

    @contextlib.asynccontextmanager
    async def running():
        app = QueueApp(store, store.url)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            yield pilot

    return running
