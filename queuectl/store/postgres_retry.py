"""Riding out a lost PostgreSQL connection: the retry loop every verb of store/postgres.py goes
through (reconnect through the pool, back off, give up after a window with one clear error),
and one stderr line per outage (asyncpg's pool logs a traceback per failed reconnect otherwise)."""

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import QueuectlError, StoreError
from .postgres_conn import asyncpg, reason, transient

T = TypeVar("T")

RETRY_WINDOW_S = 120.0  # how long a verb keeps reconnecting before it reports the store lost


class _Outage:
    """One stderr line when a connection problem begins, one when a call gets through again."""

    def __init__(self) -> None:
        self.active = False

    def begin(self, why: str) -> None:
        if not self.active:
            self.active = True
            sys.stderr.write(f"queuectl: PostgreSQL connection problem ({why}); retrying\n")

    def end(self) -> None:
        if self.active:
            self.active = False
            sys.stderr.write("queuectl: reconnected to PostgreSQL\n")


OUTAGE = _Outage()  # per process, like asyncpg's pool logger


async def run_retrying(pool: Any, fn: Callable[[Any, bool], Awaitable[T]], *,
                       window: float, url: str) -> T:
    """fn(conn, retrying) on a connection of `pool`; transient failures reconnect and retry
    with backoff for `window` seconds, then become one StoreError."""
    deadline, delay, retrying = None, 0.05, False
    while True:
        try:
            async with pool.acquire() as conn:
                try:
                    result = await fn(conn, retrying)
                except Exception as exc:
                    if transient(exc) and not isinstance(exc, asyncpg.TransactionRollbackError):
                        _discard(conn)
                    raise
            if retrying:
                OUTAGE.end()
            return result
        except QueuectlError:
            raise
        except Exception as exc:
            if not transient(exc):
                if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
                    raise StoreError(f"store {url}: {reason(exc)}") from None
                raise
            now = time.monotonic()
            deadline = deadline or now + window
            if now >= deadline:
                raise StoreError(f"lost the PostgreSQL store {url} and could not "
                                 f"reconnect within {window:g}s: {reason(exc)}") from None
            OUTAGE.begin(reason(exc))
            retrying = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


def _discard(conn: Any) -> None:
    """Never reuse a connection that failed in transit: the pool connects afresh. When the
    server closed it, asyncpg has already released it and terminate() would raise an
    InterfaceError that would replace (and hide) the transient error being handled."""
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


class _PoolLogLine(logging.Handler):
    """asyncpg's pool logs a warning with a full traceback each time it fails to reconnect its
    idle connections during an outage; we fold it into the outage's single line."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        OUTAGE.begin(reason(error) if error is not None else record.getMessage())


def quiet_pool_log() -> None:
    """Route asyncpg's pool log through OUTAGE instead of Python's last-resort stderr handler."""
    logger = logging.getLogger("asyncpg.pool")
    if not any(isinstance(h, _PoolLogLine) for h in logger.handlers):
        logger.addHandler(_PoolLogLine(logging.WARNING))
        logger.propagate = False
