"""The dashboard in-process: Starlette's TestClient over a real store, on SQLite and PostgreSQL.

``db`` is a fresh store URL per backend; ``seed`` writes jobs through the store verbs (a real
attempt history with output); ``client(token=None)`` is a TestClient whose lifespan opens the
store, addressed as http://127.0.0.1:8765 like the real server."""

from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install -e '.[web]'")

from dashsupport import Seed  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from queuectl.web.app import create_app  # noqa: E402

BASE = "http://127.0.0.1:8765"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "queue.db")
        return
    from store.pg_support import new_store_url_sync

    url, drop = new_store_url_sync()
    yield url
    drop()


@pytest.fixture
def sqlite_db(tmp_path) -> str:
    return str(tmp_path / "queue.db")


@pytest.fixture
def seed(db) -> Seed:
    return Seed(db)


@pytest.fixture
def client(db) -> Iterator[Callable[..., TestClient]]:
    """client(token=None, url=db) -> an entered TestClient (closed at teardown)."""
    opened: list[TestClient] = []

    def make(token: str | None = None, url: str | None = None, base: str = BASE) -> TestClient:
        test_client = TestClient(create_app(db=url or db, token=token), base_url=base)
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)
