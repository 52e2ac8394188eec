"""The dashboard in-process: Starlette's TestClient over a real store, on SQLite and PostgreSQL.

``db`` is a fresh store URL per backend; ``seed`` writes jobs through the store verbs (a real
attempt history with output); ``client(token=None)`` is a TestClient whose lifespan opens the
store, addressed as http://127.0.0.1:8765 like the real server."""

import asyncio
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed: pip install -e '.[web]'")

from starlette.testclient import TestClient  # noqa: E402

from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition  # noqa: E402
from queuectl.store import open_store  # noqa: E402
from queuectl.timeutil import now_ms  # noqa: E402
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


class Seed:
    """Jobs in every state, written through the store verbs with real timestamps."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, body: Callable) -> object:
        async def main():
            store = await open_store(self.url)
            try:
                return await body(store)
            finally:
                await store.close()

        return asyncio.run(main())

    def add(self, job_id: str, command: str = "true", **fields) -> None:
        fields.setdefault("max_retries", 3)
        self.run(lambda s: s.insert_jobs([NewJob(job_id, command, **fields)], now=now_ms()))

    def attempt(self, job_id: str, *, state: JobState, exit_code: int = 0, out: bytes = b"",
                err: bytes = b"") -> None:
        """Claim `job_id` (it must be the next due) and end its attempt in `state`."""

        async def body(store):
            now = now_ms()
            (job,) = await store.claim_jobs(worker_id="w-test", limit=1, now=now)
            assert job.id == job_id, f"claimed {job.id}, expected {job_id}"
            error = None if exit_code == 0 else f"exit code {exit_code}"
            result = RunResult(exit_code, error, now, now + 250, 0.25, out, err)
            run_at = now + 60_000 if state == JobState.FAILED else None
            await store.finish_jobs([Finish(job_id, "w-test", job.run_no,
                                            Transition(state, run_at), result)], now=now + 250)

        self.run(body)

    def state_of(self, job_id: str) -> str:
        return self.run(lambda s: s.get_job(job_id)).state.value

    def total(self) -> int:
        return sum(self.run(lambda s: s.count_by_state()).values())

    def standard(self) -> None:
        """ok (completed, with output), bad (dead), later (pending, due in an hour)."""
        self.add("ok", "echo '<script>alert(1)</script>'", priority=3)
        self.attempt("ok", state=JobState.COMPLETED,
                     out=b"<script>window.__xss = 1</script>\nhello\n", err=b"warn\n")
        self.add("bad", "exit 3", max_retries=0, priority=2)
        self.attempt("bad", state=JobState.DEAD, exit_code=3, out=b"before the end\n")
        self.add("later", "sleep 1", run_at=now_ms() + 3_600_000)


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
