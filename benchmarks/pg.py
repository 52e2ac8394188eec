"""PostgreSQL for the -pg rows: which server, a schema of its own per row, fast prefill.

QUEUECTL_BENCH_PG_DSN names the server (default postgresql://postgres@127.0.0.1:5432/postgres).
When it cannot be reached the -pg rows are skipped with the reason, like P1-peer without huey.
asyncpg is imported only here and only when a -pg row runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import urllib.parse
import uuid
from collections.abc import Iterator

from .common import BenchError

DSN_VAR = "QUEUECTL_BENCH_PG_DSN"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
_probed: dict[str, str | None] = {}  # dsn -> None when reachable, else why not


def dsn() -> str:
    return os.environ.get(DSN_VAR) or DEFAULT_DSN


def skip_reason() -> str | None:
    """None when the server answers; else a reason fit for Row.skipped (probed once per run)."""
    server = dsn()
    if server not in _probed:
        _probed[server] = asyncio.run(_probe(server))
    why = _probed[server]
    return None if why is None else f"PostgreSQL {_shown(server)} unreachable ({why}); set {DSN_VAR}"


def _shown(server: str) -> str:
    """The DSN without its password, fit for a results file."""
    parts = urllib.parse.urlsplit(server)
    if parts.password is None:
        return server
    return urllib.parse.urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


async def _probe(server: str) -> str | None:
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed: pip install -e '.[postgres]'"
    try:
        conn = await asyncpg.connect(server, timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means "skip", with its text
        return " ".join(str(exc).split()) or type(exc).__name__
    await conn.close()
    return None


@contextlib.contextmanager
def schema(name: str) -> Iterator[str]:
    """A store URL on a fresh schema (created by queuectl on first open), dropped afterwards."""
    base = dsn()
    name = f"bench_{name}_{uuid.uuid4().hex[:10]}"
    parts = urllib.parse.urlsplit(base)
    query = urllib.parse.parse_qsl(parts.query) + [("schema", name)]
    try:
        yield urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    finally:
        asyncio.run(_drop(base, name))


async def _drop(base: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base, timeout=10)
    try:
        await conn.execute("SET lock_timeout = '10s'")
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _connect(url: str):
    """A plain asyncpg connection on the store's schema (migrated by queuectl's own code)."""
    import asyncpg

    from queuectl.store import open_store
    from queuectl.store.postgres_conn import Location

    await (await open_store(url)).close()  # creates the schema and runs the migrations
    conn = await asyncpg.connect(**Location(url).connect_kwargs())
    try:
        yield conn
    finally:
        await conn.close()


# One statement: the schema's statement-level count trigger adds all of them to job_counts at
# once, so `status`, drain checks and the counters stay right without touching job_counts here.
_PREFILL = """
INSERT INTO jobs (id, command, state, max_retries, priority, run_at, created_at, updated_at)
SELECT $1 || lpad(i::text, 8, '0'), $2, 'pending', $3, 0, $4, $4, $4
FROM generate_series(0, $5 - 1) AS i
"""


def prefill(url: str, pending: int, *, command: str = "true", max_retries: int = 0,
            prefix: str = "b") -> None:
    """`pending` due jobs in one INSERT ... SELECT generate_series (10^5 in about a second),
    then ANALYZE, as autovacuum would have done on a queue that filled up over time."""
    async def fill() -> None:
        async with _connect(url) as conn:
            await conn.execute(_PREFILL, prefix, command, max_retries, int(time.time() * 1000),
                               pending)
            await conn.execute("ANALYZE jobs")
    asyncio.run(fill())


def count_states(url: str) -> dict[str, int]:
    """Jobs per state, counted in the table; BenchError when the store's counters disagree."""
    async def count() -> tuple[dict[str, int], dict[str, int]]:
        async with _connect(url) as conn:
            rows = await conn.fetch("SELECT state, count(*) FROM jobs GROUP BY state")
            kept = await conn.fetch("SELECT state, sum(n) FROM job_counts GROUP BY state")
        return ({r[0]: int(r[1]) for r in rows},
                {r[0]: int(r[1]) for r in kept if r[1]})
    actual, counters = asyncio.run(count())
    if actual != counters:
        raise BenchError(f"job_counts {counters} disagree with the jobs table {actual}")
    return actual
