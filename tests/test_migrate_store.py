"""queuectl migrate-store --from URL --to URL: jobs, attempts with output, and config move whole.

SQLite -> SQLite runs everywhere; the PostgreSQL legs need QUEUECTL_TEST_PG_DSN (else they skip,
and fail under QUEUECTL_TEST_PG_REQUIRED=1, as in CI).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition, WorkerInfo
from queuectl.store import open_store
from queuectl.store.postgres_copy import copy_store

QUEUECTL = str(Path(sys.executable).parent / "queuectl")
NOW = 1_800_000_000_000

pytestmark = pytest.mark.timeout(180)


def pg_url_or_skip():
    from store.pg_support import new_store_url_sync

    return new_store_url_sync()


@pytest.fixture
def pg_url():
    url, drop = pg_url_or_skip()
    yield url
    drop()


@pytest.fixture
def pg_url2():
    url, drop = pg_url_or_skip()
    yield url
    drop()


def cli(tmp_path: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(NO_COLOR="1", XDG_DATA_HOME=str(tmp_path / "xdg"))
    if db is not None:
        env["QUEUECTL_DB"] = db
    return subprocess.run([QUEUECTL, *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)


def ok(tmp_path: Path, *args: str, db: str | None = None) -> str:
    cp = cli(tmp_path, *args, db=db)
    assert cp.returncode == 0, f"{args}: exit {cp.returncode}\n{cp.stderr}"
    return cp.stdout


def history_source(tmp_path: Path) -> str:
    """An SQLite store with completed, dead (with output), scheduled jobs and a config key."""
    db = str(tmp_path / "src.db")
    ok(tmp_path, "enqueue", '{"id":"ok","command":"echo out; echo err >&2"}', db=db)
    ok(tmp_path, "enqueue", '{"id":"bad","command":"echo oops; exit 2","max_retries":0}', db=db)
    ok(tmp_path, "config", "set", "backoff-base", "3", db=db)
    ok(tmp_path, "worker", "start", "--drain", db=db)
    ok(tmp_path, "enqueue", '{"id":"later","command":"true","delay":3600,"priority":4}',
       "--batch", "nightly", "--queue", "q1", "--cwd", "/tmp", "--env", "A=1 2", "--env", "B=é",
       "--unique-key", "k1", "--after", "ok", db=db)  # every Part 2 field travels too
    return db


def views(tmp_path: Path, db: str) -> dict[str, str]:
    return {
        "list": ok(tmp_path, "list", "--json", db=db),
        "show ok": ok(tmp_path, "show", "ok", "--json", db=db),
        "show bad": ok(tmp_path, "show", "bad", "--json", db=db),
        "logs bad": ok(tmp_path, "logs", "bad", db=db),
        "config": ok(tmp_path, "config", "list", "--json", db=db),
        "jobs": json.dumps(json.loads(ok(tmp_path, "status", "--json", db=db))["jobs"]),
    }


def test_sqlite_to_sqlite_copies_everything_byte_for_byte(tmp_path):
    src = history_source(tmp_path)
    dst = str(tmp_path / "dst.db")
    out = ok(tmp_path, "migrate-store", "--from", src, "--to", dst, "--json")
    assert json.loads(out) | {"from": "", "to": ""} == {
        "from": "", "to": "", "jobs": 3, "attempts": 2, "config": 1}
    assert views(tmp_path, dst) == views(tmp_path, src)


def test_sqlite_to_postgres_and_back_is_byte_identical(tmp_path, pg_url):
    src = history_source(tmp_path)
    expected = views(tmp_path, src)
    out = ok(tmp_path, "migrate-store", "--from", src, "--to", pg_url)
    assert out.startswith("copied 3 jobs, 2 attempts and 1 config keys from sqlite://")
    assert views(tmp_path, pg_url) == expected
    back = str(tmp_path / "back.db")
    ok(tmp_path, "migrate-store", "--from", pg_url, "--to", back)
    assert views(tmp_path, back) == expected
    # the migrated store keeps working: its counts follow new work
    ok(tmp_path, "enqueue", '{"id":"new","command":"true"}', db=pg_url)
    assert json.loads(ok(tmp_path, "status", "--json", db=pg_url))["jobs"]["pending"] == 2


def test_postgres_to_postgres(tmp_path, pg_url, pg_url2):
    src = history_source(tmp_path)
    ok(tmp_path, "migrate-store", "--from", src, "--to", pg_url)
    ok(tmp_path, "migrate-store", "--from", pg_url, "--to", pg_url2)
    assert views(tmp_path, pg_url2) == views(tmp_path, src)


def test_a_non_empty_target_is_refused_and_left_alone(tmp_path):
    src = history_source(tmp_path)
    dst = str(tmp_path / "dst.db")
    ok(tmp_path, "enqueue", '{"id":"mine","command":"true"}', db=dst)
    cp = cli(tmp_path, "migrate-store", "--from", src, "--to", dst)
    assert cp.returncode == 1 and cp.stdout == ""
    assert cp.stderr == ("error: the target already holds 1 job(s); migrate-store copies into "
                         "an empty store only\n")
    assert [j["id"] for j in json.loads(ok(tmp_path, "list", "--json", db=dst))] == ["mine"]


def test_the_same_store_is_a_usage_error(tmp_path):
    src = str(tmp_path / "src.db")
    cp = cli(tmp_path, "migrate-store", "--from", src, "--to", "sqlite://" + src)
    assert cp.returncode == 2 and "same store" in cp.stderr


async def test_a_live_worker_on_the_source_is_refused(tmp_path):
    from queuectl.errors import WrongStateError

    source = await open_store(str(tmp_path / "src.db"))
    target = await open_store(str(tmp_path / "dst.db"))
    try:
        await source.register_worker(WorkerInfo("w", 1, "elsewhere", 1, NOW, NOW))
        with pytest.raises(WrongStateError, match="stop them first"):
            await copy_store(source, target, lease_s=10, now=NOW + 1000)
        assert await target.get_config() == {}
    finally:
        await source.close()
        await target.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_a_job_held_by_a_dead_worker_is_rescued_in_the_target(tmp_path, backend):
    drop = None
    if backend == "sqlite":
        target_url = str(tmp_path / "dst.db")
    else:
        target_url, drop = pg_url_or_skip()  # may skip: before anything is opened
    source = await open_store(str(tmp_path / "src.db"))
    target = await open_store(target_url)
    try:
        await source.insert_jobs([NewJob("held", "true", max_retries=3)], now=NOW)
        await source.claim_jobs(worker_id="gone", limit=1, now=NOW)
        copied = await copy_store(source, target, lease_s=10, now=NOW + 60_000)
        assert copied.jobs == 1
        held = await target.get_job("held")
        assert (held.state, held.worker_id, held.attempts) == (JobState.PROCESSING, "gone", 1)
        (rescued,) = await target.rescue_lost_jobs(dead_workers=[], now=NOW + 60_000)
        assert (rescued.job_id, rescued.state) == ("held", JobState.PENDING)
        assert [a.error for a in await target.attempts("held")] == ["worker lost"]
    finally:
        await source.close()
        await target.close()
        if drop:
            drop()


def flow_source(tmp_path: Path, url: str) -> str:
    """A store with Part 2 state around its jobs: a paused limited queue holding a job, a
    schedule, a chain a -> b -> c (b waits on a, c on b) and a unique-key holder."""
    ok(tmp_path, "queue", "set", "slow", "--limit", "2", db=url)
    ok(tmp_path, "queue", "pause", "slow", db=url)
    ok(tmp_path, "enqueue", '{"id":"p","command":"true"}', "--queue", "slow", db=url)
    ok(tmp_path, "schedule", "add", "nightly", "--cron", "0 3 * * *", "--tz", "Europe/Paris",
       '{"command":"echo nightly"}', db=url)
    ok(tmp_path, "enqueue", '{"id":"a","command":"true"}', db=url)
    ok(tmp_path, "enqueue", '{"id":"b","command":"true"}', "--after", "a", db=url)
    ok(tmp_path, "enqueue", '{"id":"c","command":"true"}', "--after", "b", db=url)
    ok(tmp_path, "enqueue", '{"id":"u","command":"true"}', "--unique-key", "deploy", db=url)
    return url


def flow_views(tmp_path: Path, url: str) -> dict[str, str]:
    return {"queues": ok(tmp_path, "queue", "list", "--json", db=url),
            "schedules": ok(tmp_path, "schedule", "list", "--json", db=url),
            "list": ok(tmp_path, "list", "--json", db=url)}


async def behaves_like_the_source(url: str) -> None:
    """Claims on the target: only a and u run; b and c wait their turn; the queue stays
    paused, then honours its limit; the unique key is still held by u."""
    store = await open_store(url)
    try:
        assert sorted(await store.dependency_edges()) == [("a", "b"), ("b", "c")]
        (held,) = await store.insert_jobs([NewJob("u2", "true", unique_key="deploy")], now=NOW)
        assert held.id == "u"
        later = NOW * 2  # every job is due
        claimed = await store.claim_jobs(worker_id="w", limit=10, now=later)
        assert sorted(j.id for j in claimed) == ["a", "u"]
        a = next(j for j in claimed if j.id == "a")
        await store.finish_jobs([Finish("a", "w", a.run_no, Transition(JobState.COMPLETED, None),
                                        RunResult(0, None, later, later, 0.0, b"", b""))],
                                now=later)
        assert [j.id for j in await store.claim_jobs(worker_id="w", limit=10, now=later)] == ["b"]
        await store.set_queues(["slow"], paused=False)
        assert [j.id for j in await store.claim_jobs(worker_id="w", limit=10, now=later)] == ["p"]
    finally:
        await store.close()


@pytest.mark.parametrize("direction", ["sqlite-sqlite", "sqlite-postgres", "postgres-sqlite",
                                       "postgres-postgres"])
async def test_queues_schedules_and_waits_travel_in_every_direction(tmp_path, direction):
    ends, drops = [], []
    for n, backend in enumerate(direction.split("-")):
        if backend == "sqlite":
            ends.append(str(tmp_path / f"s{n}.db"))
        else:
            url, drop = pg_url_or_skip()  # may skip: before anything is opened
            ends.append(url)
            drops.append(drop)
    try:
        src, dst = flow_source(tmp_path, ends[0]), ends[1]
        expected = flow_views(tmp_path, src)
        slow = json.loads(expected["queues"])[-1]
        assert (slow["name"], slow["paused"], slow["limit"]) == ("slow", True, 2)
        ok(tmp_path, "migrate-store", "--from", src, "--to", dst)
        assert flow_views(tmp_path, dst) == expected
        await behaves_like_the_source(dst)
    finally:
        for drop in drops:
            drop()


def test_a_schedule_already_named_in_the_target_is_refused_and_nothing_moves(tmp_path):
    src = flow_source(tmp_path, str(tmp_path / "src.db"))
    dst = str(tmp_path / "dst.db")
    ok(tmp_path, "schedule", "add", "nightly", "--cron", "* * * * *", '{"command":"true"}', db=dst)
    cp = cli(tmp_path, "migrate-store", "--from", src, "--to", dst)
    assert (cp.returncode, cp.stdout) == (1, "")
    assert cp.stderr == ("error: the target already has a schedule named 'nightly'; remove it "
                         "first (queuectl schedule remove)\n")
    assert json.loads(ok(tmp_path, "list", "--json", db=dst)) == []
    assert json.loads(ok(tmp_path, "queue", "list", "--json", db=dst)) == []
