"""PostgreSQL for tests: one fresh schema per test, dropped afterwards.

QUEUECTL_TEST_PG_DSN=postgresql://user@host:port/db turns the PostgreSQL variants on; without
it they skip with a visible reason (so `make test` passes on a laptop). QUEUECTL_TEST_PG_REQUIRED=1
(set by .ci/run) turns every such skip into a failure: CI must not silently lose the variants.

Usable from sync code too (e2e): `url, drop = new_store_url_sync()` ... `drop()`.
"""

import asyncio
import contextlib
import os
import threading
import urllib.parse
import uuid

import pytest

DSN_VAR = "QUEUECTL_TEST_PG_DSN"
REQUIRED_VAR = "QUEUECTL_TEST_PG_REQUIRED"
_reachable: dict[str, str | None] = {}  # dsn -> None when reachable, else the reason


def required() -> bool:
    return os.environ.get(REQUIRED_VAR, "") not in ("", "0")


def _skip_or_fail(reason: str) -> None:
    if required():
        pytest.fail(f"{reason} ({REQUIRED_VAR} is set: the PostgreSQL variants must run)")
    pytest.skip(reason)


def dsn() -> str:
    """The server to test against, or skip (fail under QUEUECTL_TEST_PG_REQUIRED=1)."""
    value = os.environ.get(DSN_VAR)
    if not value:
        _skip_or_fail(f"PostgreSQL variant: set {DSN_VAR}=postgresql://user@host/db to run it")
    if value not in _reachable:
        _reachable[value] = _run(_probe(value))
    if _reachable[value] is not None:
        _skip_or_fail(f"PostgreSQL variant: server {value} unreachable: {_reachable[value]}")
    return value


def with_schema(base: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(base)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "schema"]
    query.append(("schema", schema))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def schema_of(url: str) -> str:
    """The quoted schema a store URL names."""
    schema = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["schema"]
    return '"' + schema + '"'


def new_store_url_sync() -> tuple[str, object]:
    """A store URL on a schema of its own, and a function that drops that schema."""
    base = dsn()
    schema = "qt_" + uuid.uuid4().hex[:16]
    return with_schema(base, schema), lambda: _run(_drop(base, schema))


async def new_store_url(request: pytest.FixtureRequest) -> str:
    """For async fixtures: the schema is dropped when the test is torn down."""
    url, drop = new_store_url_sync()
    request.addfinalizer(drop)
    return url


@contextlib.asynccontextmanager
async def released_store(request: pytest.FixtureRequest, version: int):
    """A new store built by the first `version` PostgreSQL migrations, as an older release
    left it: yields (its URL, a connection inside its schema) to fill it with raw rows."""
    import asyncpg

    from queuectl.store import postgres_schema as sql

    url = await new_store_url(request)
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute(f"CREATE SCHEMA {schema_of(url)}; SET search_path TO {schema_of(url)}")
        for script in sql.MIGRATIONS[:version]:
            await conn.execute(script)
        await conn.execute(sql.CREATE_VERSION_TABLE.replace("VALUES (0)", f"VALUES ({version})"))
        yield url, conn
    finally:
        await conn.close()


def _run(coro):
    """Run a coroutine to completion on a private loop in a thread (safe inside a running loop)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


async def _probe(value: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(value, timeout=5)
    except Exception as exc:  # noqa: BLE001
        return " ".join(str(exc).split()) or type(exc).__name__
    await conn.close()
    return None


async def _drop(base: str, schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(base, timeout=10)
    try:
        await conn.execute("SET lock_timeout = '10s'")
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
