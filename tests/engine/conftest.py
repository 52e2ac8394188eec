"""Engine tier: a real SQLite store in tmp_path and engines that log into a list."""

import pytest

from queuectl.settings import Settings
from queuectl.store.sqlite import SqliteStore

# Fast retries (50 ms), a short kill grace, the default lease.
FAST = Settings(backoff_base=2.0, backoff_max=0.05, kill_grace=0.2)


@pytest.fixture
async def store(tmp_path):
    opened = await SqliteStore.open(tmp_path / "queue.db")
    yield opened
    await opened.close()
