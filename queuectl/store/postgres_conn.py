"""PostgreSQL connections: URLs, which errors are worth a retry, LISTEN/NOTIFY and migrations.

Split from store/postgres.py (the verbs) by concern; like it, only imported with asyncpg present."""

import asyncio
import contextlib
import hashlib
import urllib.parse
from collections.abc import Callable
from typing import Any

from ..errors import QueuectlError, StoreError, UsageError

try:
    import asyncpg
except ImportError:
    raise QueuectlError(
        "the PostgreSQL backend needs asyncpg: pip install 'queuectl[postgres]'"
    ) from None

from . import display
from . import postgres_schema as sql

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0  # client side: a silently dead network never hangs a verb forever

DEFAULT_SERVER_SETTINGS = {
    "application_name": "queuectl",
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
}
MIGRATION_LOCK_SALT = "queuectl schema migration"

# -- URLs ---------------------------------------------------------------------------------


class Location:
    """A postgresql:// URL split into what asyncpg gets and what queuectl itself reads.

    `?schema=NAME` is ours: the store's tables live in that schema (created on first use).
    Every other query parameter goes to asyncpg (e.g. sslmode, or server settings such as
    statement_timeout, which then override our defaults)."""

    def __init__(self, url: str) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            parts.port  # noqa: B018 - validates the port
        except ValueError as exc:
            raise UsageError(f"bad PostgreSQL URL: {exc}") from None
        schemas = [v for k, v in query if k == "schema"]
        rest = [(k, v) for k, v in query if k != "schema"]
        self.schema = schemas[-1] if schemas else None
        if self.schema is not None and not 0 < len(self.schema.encode()) <= 63:
            raise UsageError("bad PostgreSQL URL: schema must be 1 to 63 bytes")
        if self.schema is not None and any(k == "search_path" for k, _ in rest):
            raise UsageError("bad PostgreSQL URL: give schema or search_path, not both")
        self.dsn = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
        given = {k for k, _ in rest}
        self.server_settings = {k: v for k, v in DEFAULT_SERVER_SETTINGS.items() if k not in given}
        if self.schema is not None:
            self.server_settings["search_path"] = quote_ident(self.schema)
        self.display = display(url)
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"

    def connect_kwargs(self) -> dict[str, Any]:
        return {"dsn": self.dsn, "server_settings": dict(self.server_settings),
                "timeout": CONNECT_TIMEOUT_S, "command_timeout": COMMAND_TIMEOUT_S}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def channel_for(database: str, schema: str) -> str:
    """The LISTEN/NOTIFY channel of one store (NOTIFY is database-wide; stores are schemas)."""
    return "queuectl_" + hashlib.sha1(f"{database}/{schema}".encode()).hexdigest()[:20]


# -- errors -------------------------------------------------------------------------------


def transient(exc: BaseException) -> bool:
    """A lost or refused connection, a server restart, a deadlock: worth a retry."""
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError
                  | asyncpg.AdminShutdownError | asyncpg.CrashShutdownError
                  | asyncpg.TooManyConnectionsError | asyncpg.DeadlockDetectedError
                  | asyncpg.SerializationError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, asyncpg.exceptions._base.InternalClientError):
        return True  # e.g. a server-side termination noticed in the middle of a call
    if isinstance(exc, OSError):
        return True
    if isinstance(exc, asyncpg.InterfaceError):
        text = str(exc)
        # asyncpg hands a connection the server closed back to the pool at once and detaches
        # our proxy: the next call on it (in a transaction, say) says "released back to the pool"
        return any(sign in text for sign in (
            "connection is closed", "underlying connection is closed",
            "released back to the pool"))
    return False

# -- LISTEN/NOTIFY ------------------------------------------------------------------------


class ListenSubscription:
    """A dedicated connection LISTENing on the store's channel; reconnects when it drops.

    After a reconnect it calls on_wakeup(b"jobs") once: notifications sent meanwhile are lost,
    so the engine looks at the store again. Until then the engine's polling covers the gap."""

    def __init__(self, location: Location, channel: str,
                 on_wakeup: Callable[[bytes], None]) -> None:
        self._location, self._channel, self._on_wakeup = location, channel, on_wakeup
        self._conn: Any = None
        self._closed = False
        self._reconnect: asyncio.Task | None = None

    @classmethod
    async def start(cls, location: Location, channel: str,
                    on_wakeup: Callable[[bytes], None]) -> "ListenSubscription":
        sub = cls(location, channel, on_wakeup)
        if not await sub._connect():
            sub._schedule_reconnect()
        return sub

    async def _connect(self) -> bool:
        try:
            conn = await asyncpg.connect(**self._location.connect_kwargs())
        except Exception as exc:  # noqa: BLE001 - best effort: the engine polls meanwhile
            if transient(exc) or isinstance(exc, asyncpg.PostgresError):
                return False
            raise
        try:
            await conn.add_listener(self._channel, self._notified)
        except Exception:  # noqa: BLE001
            conn.terminate()
            return False
        conn.add_termination_listener(self._terminated)
        if conn.is_closed():  # killed before the listener was in place: it will never fire
            return False
        self._conn = conn
        return True

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._on_wakeup(payload.encode())

    def _terminated(self, _conn: Any) -> None:
        self._conn = None
        if not self._closed:
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(
                self._reconnect_loop(), name="listen-reconnect")

    async def _reconnect_loop(self) -> None:
        delay = 0.1
        while not self._closed:
            await asyncio.sleep(delay)
            try:
                connected = await self._connect()
            except Exception:  # noqa: BLE001 - this task must outlive any outage
                connected = False
            if connected:
                self._on_wakeup(b"jobs")
                return
            delay = min(delay * 2, 5.0)

    async def close(self) -> None:
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnect
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 2)
            except Exception:  # noqa: BLE001
                conn.terminate()


# -- migrations ---------------------------------------------------------------------------


async def migrate(conn: Any, location: Location) -> tuple[str, str]:
    """Bring the schema to SCHEMA_VERSION; safe when many processes open a new store at once
    (an advisory lock serialises them). Returns (schema, database)."""
    try:
        try:
            version = await conn.fetchval(sql.READ_VERSION)
        except asyncpg.UndefinedTableError:
            version = None
        if version != sql.SCHEMA_VERSION:
            async with conn.transaction():
                await _apply_missing(conn, location)
        schema, database = await conn.fetchrow("SELECT current_schema(), current_database()")
    except QueuectlError:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        if transient(exc):
            raise  # the caller's retry loop reconnects
        raise StoreError(f"store {location.display}: {reason(exc)}") from None
    return schema, database


async def _apply_missing(conn: Any, location: Location) -> None:
    key = int.from_bytes(hashlib.sha1(
        f"{MIGRATION_LOCK_SALT}/{location.schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", key)
    if location.schema is not None:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(location.schema)}")
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        raise StoreError(f"store {location.display}: no schema in the search_path exists")
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        clash = [t for t in sql.OUR_TABLES
                 if await conn.fetchval("SELECT to_regclass($1)", quote_ident(t)) is not None]
        if clash:
            raise StoreError(f"store {location.display}: schema {schema!r} already has a "
                             f"table {clash[0]!r} that queuectl did not create; use ?schema=NAME")
        await conn.execute(sql.CREATE_VERSION_TABLE)
    version = await conn.fetchval(sql.READ_VERSION + " FOR UPDATE")
    if version > sql.SCHEMA_VERSION:
        raise StoreError(
            f"store {location.display} has schema version {version}, newer than this queuectl "
            f"understands ({sql.SCHEMA_VERSION}); upgrade queuectl")
    for number in range(version, sql.SCHEMA_VERSION):
        await conn.execute(sql.MIGRATIONS[number])
    await conn.execute("UPDATE schema_version SET version = $1", sql.SCHEMA_VERSION)


async def keep_session(conn: Any) -> None:
    """The pool's reset on release. asyncpg's default sends one more round trip per verb
    (pg_advisory_unlock_all, CLOSE ALL, UNLISTEN *, RESET ALL: ~0.2 ms, in every verb's
    latency) to undo session state that pooled connections never acquire here: no SET, no
    cursors, no LISTEN (ListenSubscription has its own connection), only xact advisory locks.
    An open transaction is still rolled back by the pool before this is called."""


def reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text
