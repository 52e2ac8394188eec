"""What only the PostgreSQL backend has: URLs and schemas, migrations, SKIP LOCKED claims and
rescues from many processes at once, sharded counts, LISTEN/NOTIFY, and surviving a lost
connection without losing an outcome. The shared contract runs in the test_contract_* files.

Without QUEUECTL_TEST_PG_DSN these skip (visibly); with QUEUECTL_TEST_PG_REQUIRED=1 they fail.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from queuectl.errors import DuplicateJobError
from queuectl.jobs import JobState, WorkerInfo
from queuectl.store import open_store
from queuectl.store import postgres_schema as sql

from . import pg_support
from .helpers import NOW, claim, finish, job, result

pytestmark = pytest.mark.timeout(300)
QUEUECTL = str(Path(sys.executable).parent / "queuectl")


@pytest.fixture
async def pg_url(request):
    """A store URL on a fresh schema with its own application_name (to find its backends)."""
    url = await pg_support.new_store_url(request)
    return url + "&application_name=" + "qt_app_" + uuid.uuid4().hex[:8]


@pytest.fixture
async def pg(pg_url):
    store = await open_store(pg_url)
    yield store
    await store.close()


def app_name(url: str) -> str:
    return url.rsplit("application_name=", 1)[1]


async def admin(query: str, *args):
    import asyncpg

    conn = await asyncpg.connect(pg_support.dsn())
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def terminate_backends(url: str) -> int:
    rows = await admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE application_name = $1", app_name(url))
    return len(rows)


# -- URLs, the driver, unreachable servers (no server needed) ---------------------------------


def test_url_password_is_masked_and_schema_is_ours():
    from queuectl.store.postgres_conn import Location

    loc = Location("postgresql://u:s3cret@db.example:6543/q?schema=team_a&sslmode=disable")
    assert loc.display == "postgresql://u:***@db.example:6543/q?schema=team_a&sslmode=disable"
    assert loc.schema == "team_a" and "schema" not in loc.dsn and "sslmode=disable" in loc.dsn
    assert loc.server_settings["search_path"] == '"team_a"'
    assert loc.server_settings["statement_timeout"] == "30s"
    mine = Location("postgresql://u@h/q?statement_timeout=5s")
    assert "statement_timeout" not in mine.server_settings  # the URL's own setting wins


def test_schema_and_search_path_together_is_a_usage_error():
    from queuectl.errors import UsageError
    from queuectl.store.postgres_conn import Location

    with pytest.raises(UsageError, match="schema or search_path"):
        Location("postgresql://u@h/q?schema=a&search_path=b")


def _cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    env.pop("QUEUECTL_DB", None)
    return subprocess.run([QUEUECTL, *args], capture_output=True, text=True, env=env, timeout=60)


def test_missing_driver_is_a_one_line_hint(tmp_path):
    code = ("import sys; sys.modules['asyncpg'] = None\n"
            "from queuectl.cli.entry import main\n"
            "main(['--db', 'postgresql://postgres@127.0.0.1:1/postgres', 'status'])\n")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1
    assert cp.stderr == ("error: the PostgreSQL backend needs asyncpg: "
                         "pip install 'queuectl[postgres]'\n")
    assert cp.stdout == ""


def test_unreachable_server_is_exit_1_with_one_line():
    cp = _cli("--db", "postgresql://postgres@127.0.0.1:1/postgres", "status", "--json")
    assert cp.returncode == 1 and cp.stdout == ""
    assert cp.stderr.startswith("error: cannot connect to PostgreSQL at 127.0.0.1:1/postgres")
    assert len(cp.stderr.splitlines()) == 1


# -- migrations ---------------------------------------------------------------------------


async def test_many_processes_opening_a_new_store_migrate_it_once(pg_url):
    stores = await asyncio.gather(*(open_store(pg_url) for _ in range(6)))
    try:
        schema = pg_url.split("schema=")[1].split("&")[0]
        rows = await admin(f'SELECT version FROM "{schema}".schema_version')
        assert [r[0] for r in rows] == [sql.SCHEMA_VERSION]
        await stores[0].insert_jobs([job("a")], now=NOW)
        assert (await stores[5].get_job("a")).id == "a"
    finally:
        for store in stores:
            await store.close()


async def test_sessions_carry_a_statement_timeout(pg):
    value = await pg._run(lambda conn, _: conn.fetchval("SHOW statement_timeout"))
    assert value == "30s"


async def test_a_newer_schema_is_refused(pg, pg_url):
    from queuectl.errors import StoreError

    await pg._run(lambda conn, _: conn.execute("UPDATE schema_version SET version = 99"))
    with pytest.raises(StoreError, match="newer than this queuectl"):
        await open_store(pg_url)


async def test_a_foreign_table_of_the_same_name_is_refused(request):
    from queuectl.errors import StoreError

    url = await pg_support.new_store_url(request)
    schema = url.split("schema=")[1]
    await admin(f'CREATE SCHEMA "{schema}"')
    await admin(f'CREATE TABLE "{schema}".jobs (x int)')
    with pytest.raises(StoreError, match="did not create"):
        await open_store(url)


# -- many claimers, many rescuers -------------------------------------------------------------


async def test_concurrent_claimers_never_share_a_job_and_counts_stay_exact(pg, pg_url):
    await pg.insert_jobs([job(f"j{i}") for i in range(400)], now=NOW)
    stores = [pg] + [await open_store(pg_url) for _ in range(3)]
    seen: list[tuple[str, str]] = []

    async def worker(n: int, store) -> None:
        while True:
            got = await store.claim_jobs(worker_id=f"w{n}", limit=7, now=NOW + 1)
            if not got:
                return
            seen.extend((j.id, f"w{n}") for j in got)
            half = got[: len(got) // 2]
            await store.finish_jobs([finish(j) for j in half], now=NOW + 2)

    try:
        await asyncio.gather(*(worker(n, s) for n, s in enumerate(stores) for _ in range(3)))
    finally:
        for store in stores[1:]:
            await store.close()
    assert sorted(i for i, _ in seen) == sorted(f"j{i}" for i in range(400))
    truth = {r[0]: r[1] for r in await pg._run(lambda conn, _: conn.fetch(
        "SELECT state, count(*) FROM jobs GROUP BY state"))}
    counts = await pg.count_by_state()
    assert counts == {s: truth.get(s, 0) for s in counts}
    assert counts["completed"] + counts["processing"] == 400 and counts["pending"] == 0


async def test_many_rescuers_at_once_rescue_each_job_once(pg, pg_url):
    await pg.register_worker(WorkerInfo("dead", 1, "elsewhere", 4, NOW, NOW))
    await pg.insert_jobs([job(f"j{i}") for i in range(30)], now=NOW)
    await claim(pg, 30, worker="dead")
    stores = [pg] + [await open_store(pg_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(
            s.rescue_lost_jobs(dead_workers=[("dead", NOW)], now=NOW + 60_000)
            for s in stores for _ in range(2)))
    finally:
        for store in stores[1:]:
            await store.close()
    rescued = [r.job_id for batch in results for r in batch]
    assert sorted(rescued) == sorted(f"j{i}" for i in range(30))
    assert all(r.worker_id == "dead" and r.state == JobState.PENDING
               for batch in results for r in batch)
    for i in range(30):
        history = await pg.attempts(f"j{i}")
        assert [(a.n, a.error) for a in history] == [(1, "worker lost")]
    assert (await pg.count_by_state())["pending"] == 30
    assert await pg.list_workers() == []


async def test_claim_reads_index_heads_without_sorting_a_queue(pg):
    await pg.set_queues(["lim"], limit=2)
    await pg.insert_jobs([job(f"j{i}", priority=i % 5, queue="lim" if i % 2 else "default")
                          for i in range(3000)], now=NOW)
    await pg._run(lambda conn, _: conn.execute("ANALYZE jobs"))
    from queuectl.store import postgres_flow_schema as fsql

    def explain(query: str) -> str:  # the function's parameters and one open queue inlined
        return (query.replace("p_served", "NULL").replace("p_now", str(NOW))
                .replace("p_limit", "10").replace("o.free", "2").replace("o.name", "'lim'"))

    ungated = await pg._run(lambda conn, _: conn.fetch("EXPLAIN " + explain(fsql.UNGATED_HEAD)))
    text = "\n".join(r[0] for r in ungated)
    assert "jobs_due" in text and "Sort" not in text, text
    head = fsql.QUEUE_HEADS[fsql.QUEUE_HEADS.index("(") + 1 : fsql.QUEUE_HEADS.rindex(")")]
    per_queue = await pg._run(lambda conn, _: conn.fetch("EXPLAIN " + explain(head)))
    text = "\n".join(r[0] for r in per_queue)
    assert "jobs_queue_due" in text and "Sort" not in text, text


# -- LISTEN/NOTIFY ------------------------------------------------------------------------


async def _wait_for(queue: asyncio.Queue, message: bytes, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(f"no {message!r} wake-up within {timeout}s")
        try:
            got = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            continue
        if got == message:
            return


async def test_notify_wakes_subscribers_on_enqueue_retry_rescue_and_stop(pg, pg_url):
    other = await open_store(pg_url)
    woken: asyncio.Queue = asyncio.Queue()
    sub = await pg.subscribe("w-listen", woken.put_nowait)
    try:
        await other.insert_jobs([job("a")], now=NOW)
        await _wait_for(woken, b"jobs")
        (a,) = await claim(other, worker="w-other")
        await other.finish_jobs([finish(a, JobState.FAILED, run_at=NOW + 5)], now=NOW + 2)
        await _wait_for(woken, b"jobs")
        await other.register_worker(WorkerInfo("w-other", 1, "h", 1, NOW, NOW))
        assert await other.request_stop() == ["w-other"]
        await _wait_for(woken, b"stop")
    finally:
        await sub.close()
        await other.close()


async def test_subscription_survives_a_dropped_connection(pg, pg_url):
    woken: asyncio.Queue = asyncio.Queue()
    sub = await pg.subscribe("w-listen", woken.put_nowait)
    try:
        pid = sub._conn.get_server_pid()
        await admin("SELECT pg_terminate_backend($1)", pid)
        await _wait_for(woken, b"jobs")  # the reconnect itself says "look again"
        while sub._conn is None or sub._conn.get_server_pid() == pid:
            await asyncio.sleep(0.02)
        await pg.insert_jobs([job("after")], now=NOW)
        await _wait_for(woken, b"jobs")
    finally:
        await sub.close()


# -- connection loss ----------------------------------------------------------------------


async def test_outcome_is_persisted_through_killed_connections(pg, pg_url):
    await pg.insert_jobs([job("a"), job("b")], now=NOW)
    a, b = await claim(pg, 2)
    assert await terminate_backends(pg_url) >= 1
    assert await pg.finish_jobs([finish(a), finish(b, JobState.DEAD)], now=NOW + 5) == 2
    assert (await pg.get_job("a")).state == JobState.COMPLETED
    assert (await pg.get_job("b")).state == JobState.DEAD
    await terminate_backends(pg_url)
    assert (await pg.count_by_state())["completed"] == 1


async def _busy_backends(url: str, wait_event_type: str | None = None) -> int:
    rows = await admin("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                       "AND state = 'active' AND ($2::text IS NULL OR wait_event_type = $2)",
                       app_name(url), wait_event_type)
    return rows[0][0]


async def _slow_read(conn, _retrying):
    return await conn.fetchval("SELECT 'read after ' || pg_sleep(0.3)::text")


async def _slow_read_in_a_transaction(conn, _retrying):
    async with conn.transaction():
        await conn.execute("SELECT 1")
        return await conn.fetchval("SELECT 'read after ' || pg_sleep(0.3)::text")


@pytest.mark.parametrize("call", [_slow_read, _slow_read_in_a_transaction])
async def test_a_backend_killed_in_the_middle_of_a_call_is_retried(pg, pg_url, call, capfd,
                                                                   eventually):
    tries = []

    async def tracked(conn, retrying):
        tries.append(retrying)
        return await call(conn, retrying)

    task = asyncio.create_task(pg._run(tracked))
    await eventually(lambda: _busy_backends(pg_url))
    assert await terminate_backends(pg_url) >= 1
    assert await task == "read after "
    assert tries == [False, True]
    err = capfd.readouterr().err
    assert "Traceback" not in err and err.count("connection problem") == 1, err
    assert err.count("reconnected to PostgreSQL") == 1, err


async def test_a_finish_killed_while_it_runs_is_retried_and_recorded_once(pg, pg_url,
                                                                          eventually):
    import asyncpg

    await pg.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(pg, 1)
    blocker = await asyncpg.connect(pg_support.dsn())
    try:  # hold the job's row so the group commit is in flight when its backend dies
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(f"SELECT 1 FROM {pg_support.schema_of(pg_url)}.jobs "
                              "WHERE id = 'a' FOR UPDATE")
        task = asyncio.create_task(pg.finish_jobs([finish(a)], now=NOW + 5))
        await eventually(lambda: _busy_backends(pg_url, "Lock"))
        assert await terminate_backends(pg_url) >= 1
        await tx.rollback()
    finally:
        await blocker.close()
    assert await task in (0, 1)
    assert (await pg.get_job("a")).state == JobState.COMPLETED
    assert [x.n for x in await pg.attempts("a")] == [1]


def test_the_pools_reconnect_tracebacks_become_one_line_per_outage(capfd):
    import logging

    from queuectl.store.postgres_retry import OUTAGE, quiet_pool_log

    quiet_pool_log()
    log = logging.getLogger("asyncpg.pool")
    for _ in range(3):
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except OSError:
            log.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
    OUTAGE.end()
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "queuectl: PostgreSQL connection problem ([Errno 111] Connect call failed); retrying",
        "queuectl: reconnected to PostgreSQL"]


class _LoseAnswers:
    """A pool whose connections run the matching statement, then 'lose the connection'
    before the answer arrives: the commit landed, the client cannot know."""

    def __init__(self, pool, fragment: str, times: int = 1, *, at_commit: bool = False) -> None:
        """at_commit: the statement succeeds; the transaction around it commits, and it is the
        commit's answer that is lost (what a multi-statement enqueue sees)."""
        self._pool, self._fragment, self.left = pool, fragment, times
        self.at_commit, self.seen = at_commit, False

    def acquire(self):
        outer = self

        class _Ctx:
            async def __aenter__(self):
                self._cm = outer._pool.acquire()
                return _Conn(await self._cm.__aenter__(), outer)

            async def __aexit__(self, *exc):
                return await self._cm.__aexit__(*exc)

        return _Ctx()

    def __getattr__(self, name):
        return getattr(self._pool, name)


class _Conn:
    def __init__(self, conn, owner: _LoseAnswers) -> None:
        self._conn, self._owner = conn, owner

    def __getattr__(self, name):
        attr = getattr(self._conn, name)
        if name == "transaction":
            return lambda **kw: _Tx(attr(**kw), self._owner)
        if name not in ("fetch", "fetchrow", "fetchval", "execute"):
            return attr

        async def call(query, *args):
            value = await attr(query, *args)
            if self._owner._fragment in query and self._owner.left > 0:
                if self._owner.at_commit:
                    self._owner.seen = True
                else:
                    _lose(self._owner)
            return value

        return call


class _Tx:
    def __init__(self, tx, owner: _LoseAnswers) -> None:
        self._tx, self._owner = tx, owner

    async def __aenter__(self):
        return await self._tx.__aenter__()

    async def __aexit__(self, *exc):
        suppress = await self._tx.__aexit__(*exc)
        if exc[0] is None and self._owner.seen:
            self._owner.seen = False
            _lose(self._owner)
        return suppress


def _lose(owner: _LoseAnswers) -> None:
    import asyncpg

    owner.left -= 1
    raise asyncpg.ConnectionDoesNotExistError("injected: connection lost")


async def test_an_insert_whose_answer_was_lost_is_not_reported_as_a_duplicate(pg, capsys):
    pg._pool = _LoseAnswers(pg._pool, "INSERT INTO jobs")
    inserted = await pg.insert_jobs([job("a"), job("b")], now=NOW)
    assert [j.id for j in inserted] == ["a", "b"]
    assert (await pg.count_by_state())["pending"] == 2
    assert "retrying" in capsys.readouterr().err


async def test_a_keyed_enqueue_whose_commit_answer_was_lost_is_its_own_answer(pg):
    """Unique keys and `after` take the enqueue's linked transaction; a retry after its commit
    must recognise its own rows (and the holder it skipped for), not call them duplicates."""
    await pg.insert_jobs([job("first", unique_key="k"), job("dep")], now=NOW)
    pg._pool = _LoseAnswers(pg._pool, "INSERT INTO jobs", at_commit=True)
    got = await pg.insert_jobs([job("a", unique_key="k"), job("b", unique_key="k2"),
                                job("c", after=("dep", "b"))], now=NOW + 1)
    assert pg._pool.left == 0  # the loss was injected, after the commit
    assert [j.id for j in got] == ["first", "b", "c"]  # "a" was skipped for the key's holder
    assert (await pg.get_job("c")).state == JobState.PENDING
    assert (await pg.count_by_state())["pending"] == 4
    assert sorted(await pg.dependency_edges()) == [("b", "c"), ("dep", "c")]


async def test_a_keyed_enqueue_of_a_taken_id_is_still_a_duplicate_on_a_retry(pg):
    await pg.insert_jobs([job("a", command="echo old")], now=NOW)
    # the first try loses its connection before the commit; the retry meets the real "a"
    pg._pool = _LoseAnswers(pg._pool, "SET has_dependents = true WHERE id = ANY")
    with pytest.raises(DuplicateJobError, match="'a' already exists"):
        await pg.insert_jobs([job("a", unique_key="k")], now=NOW + 1)
    assert pg._pool.left == 0
    assert (await pg.get_job("a")).command == "echo old"
    assert (await pg.count_by_state())["pending"] == 1


async def test_a_claim_whose_answer_was_lost_is_handed_out_on_the_retry(pg):
    await pg.insert_jobs([job(f"j{i}") for i in range(5)], now=NOW)
    pg._pool = _LoseAnswers(pg._pool, "FOR UPDATE SKIP LOCKED")
    got = await claim(pg, 3)
    assert [j.id for j in got] == ["j0", "j1", "j2"]  # claimed once, recovered, not re-claimed
    assert all(j.run_no == 1 for j in got)
    more = await claim(pg, 10)
    assert [j.id for j in more] == ["j3", "j4"]


async def test_a_finish_whose_answer_was_lost_is_recorded_once(pg):
    await pg.insert_jobs([job("a")], now=NOW)
    (a,) = await claim(pg, 1)
    pg._pool = _LoseAnswers(pg._pool, "INSERT INTO attempts")
    await pg.finish_jobs([finish(a, res=result(0, out=b"hi"))], now=NOW + 5)
    assert (await pg.get_job("a")).state == JobState.COMPLETED
    assert [x.n for x in await pg.attempts("a")] == [1]
    assert (await pg.output("a", None)).stdout == b"hi"


# -- same history, same bytes as SQLite -------------------------------------------------------


async def _history(store) -> str:
    from queuectl.render import attempt_dict, job_dict, metrics_dict

    await store.insert_jobs([job("a", "echo a", timeout=2.0), job("b", "exit 3", max_retries=1),
                             job("c", priority=7, run_at=NOW + 1)], now=NOW)
    first = await claim(store, 3, now=NOW + 10)
    by_id = {j.id: j for j in first}
    await store.finish_jobs([
        finish(by_id["a"], res=result(0, finished=NOW + 500, duration=0.49, out=b"a\n")),
        finish(by_id["b"], JobState.FAILED, run_at=NOW + 2500,
               res=result(3, finished=NOW + 500, duration=0.123456)),
    ], now=NOW + 501)
    await store.requeue_interrupted(worker_id="w1", jobs=[("c", by_id["c"].run_no)], now=NOW + 600)
    (b,) = [j for j in await claim(store, 5, now=NOW + 3000) if j.id == "b"] or [None]
    await store.finish_jobs([finish(b, JobState.DEAD, res=result(3, finished=NOW + 3100))],
                            now=NOW + 3100)
    await store.retry_dead(["b"], now=NOW + 4000)
    jobs = [job_dict(j) async for j in store.iter_jobs()]
    history = {i: [attempt_dict(a) for a in await store.attempts(i)] for i in "abc"}
    document = {"jobs": jobs, "history": history, "counts": await store.count_by_state(),
                "metrics": metrics_dict(await store.metrics(now=NOW + 5000))}
    return json.dumps(document, indent=2, ensure_ascii=False)


async def test_json_is_byte_identical_to_sqlite_for_the_same_history(pg, tmp_path):
    sqlite = await open_store(str(tmp_path / "q.db"))
    try:
        expected = await _history(sqlite)
    finally:
        await sqlite.close()
    assert await _history(pg) == expected


# -- many processes -----------------------------------------------------------------------


@pytest.mark.slow
def test_four_worker_processes_run_5000_jobs_exactly_once(tmp_path):
    url, drop = pg_support.new_store_url_sync()
    try:
        _four_workers(tmp_path, url)
    finally:
        drop()


def _four_workers(tmp_path: Path, url: str, total: int = 5000) -> None:
    out = tmp_path / "ran.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), NO_COLOR="1")
    lines = "".join(json.dumps({"id": f"job-{i}", "command": f"echo job-{i} >> {out}"}) + "\n"
                    for i in range(total))
    cp = subprocess.run([QUEUECTL, "--db", url, "enqueue", "--file", "-"], input=lines,
                        capture_output=True, text=True, env=env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    started = time.monotonic()
    logs = [open(tmp_path / f"worker{n}.log", "w") for n in range(4)]  # noqa: SIM115
    procs = [subprocess.Popen([QUEUECTL, "--db", url, "worker", "start", "--concurrency", "10",
                               "--drain"], stdout=subprocess.DEVNULL, stderr=log, env=env)
             for log in logs]
    try:
        codes = [p.wait(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        for log in logs:
            log.close()
    elapsed = time.monotonic() - started
    assert codes == [0, 0, 0, 0], [(tmp_path / f"worker{n}.log").read_text()[-2000:]
                                   for n in range(4)]
    ran = out.read_text().split()
    assert len(ran) == total and set(ran) == {f"job-{i}" for i in range(total)}
    per_worker = [(tmp_path / f"worker{n}.log").read_text().count(" completed ") for n in range(4)]
    assert sum(per_worker) == total and all(per_worker), per_worker
    status = subprocess.run([QUEUECTL, "--db", url, "status", "--json"], capture_output=True,
                            text=True, env=env, timeout=60)
    counts = json.loads(status.stdout)["jobs"]
    assert counts["completed"] == total and counts["total"] == total
    sys.stderr.write(f"\n4 workers x 10: {total} jobs in {elapsed:.1f}s "
                     f"({total / elapsed:.0f} jobs/s), per worker {per_worker}\n")
