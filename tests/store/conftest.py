"""The store under test. Add a backend by adding a param (and a branch that opens it)."""

import pytest

from queuectl.store import open_store


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    """An opened, empty, migrated store; closed after the test.

    Contract tests use only the Store protocol; a second connection to the same store is
    `await open_store(store.url)`."""
    if request.param == "sqlite":
        opened = await open_store(str(tmp_path / "queue.db"))
    elif request.param == "postgres":  # a fresh schema; skips without QUEUECTL_TEST_PG_DSN
        from .pg_support import new_store_url

        opened = await open_store(await new_store_url(request))
    else:  # pragma: no cover - a new backend must add its own branch
        raise NotImplementedError(request.param)
    yield opened
    await opened.close()


@pytest.fixture
async def other(store):
    """A second, independent store object on the same data (another worker process, say)."""
    second = await open_store(store.url)
    yield second
    await second.close()
