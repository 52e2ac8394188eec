"""PostgreSQL fault injection for the reliability tier: a store on a schema of its own whose
every connection carries a unique application_name (so a test kills only its own backends), an
admin connection on a private event loop, and a TCP proxy on 127.0.0.1 that can be cut.

Reached only through the installed `queuectl` (and read back directly with SQL), like the
SQLite attacks."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import urllib.parse
import uuid
from collections.abc import Coroutine
from typing import Any

import pytest
from store.pg_support import dsn, with_schema


class Loop:
    """An asyncio loop in a daemon thread: run coroutines from synchronous test code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class PgStore:
    """A fresh schema; `url` tags every queuectl connection with `app` (application_name)."""

    def __init__(self, loop: Loop) -> None:
        import asyncpg

        self.base = dsn()
        self.schema = "qr_" + uuid.uuid4().hex[:16]
        self.app = "qr_" + uuid.uuid4().hex[:12]
        self.url = with_schema(self.base, self.schema) + f"&application_name={self.app}"
        self._loop = loop
        self._conn = loop.run(asyncpg.connect(self.base, timeout=10))

    def via(self, host: str, port: int) -> str:
        """The store URL with the server address replaced (e.g. by a proxy's)."""
        parts = urllib.parse.urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0] + "@" if len(netloc) == 2 else ""
        return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}{host}:{port}"))

    def server(self) -> tuple[str, int]:
        parts = urllib.parse.urlsplit(self.base)
        return parts.hostname or "127.0.0.1", parts.port or 5432

    def query(self, sql: str, *args: Any) -> list[tuple]:
        rows = self._loop.run(self._conn.fetch(sql.replace("{s}", f'"{self.schema}"'), *args))
        return [tuple(r) for r in rows]

    def kill_backends(self) -> int:
        """pg_terminate_backend on every connection of this test's queuectl processes."""
        return self.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE application_name = $1", self.app)[0][0]

    def counts(self) -> dict[str, int]:
        rows = dict(self.query("SELECT state, count(*) FROM {s}.jobs GROUP BY state"))
        return {s: rows.get(s, 0) for s in ("pending", "processing", "completed", "failed", "dead")}

    def drop(self) -> None:
        with contextlib.suppress(Exception):
            self.kill_backends()
            self.query(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        with contextlib.suppress(Exception):
            self._loop.run(self._conn.close(), 10)


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of the server. cut() drops every open connection and
    refuses new ones (accepts and closes them at once) until heal()."""

    def __init__(self, loop: Loop, target: tuple[str, int]) -> None:
        self._loop, self._target = loop, target
        self._writers: set[asyncio.StreamWriter] = set()
        self.is_cut = False
        self._server = loop.run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _cut(self) -> int:
        self.is_cut = True
        writers, self._writers = list(self._writers), set()
        for writer in writers:
            writer.transport.abort()  # RST, like a dropped link: no orderly goodbye
        return len(writers)

    def cut(self) -> int:
        return self._loop.run(self._cut())

    def heal(self) -> None:
        self.is_cut = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.run(self._cut())
            self._server.close()
            self._loop.run(self._server.wait_closed(), 10)


@pytest.fixture
def pg():
    loop = Loop()
    store = PgStore(loop)
    proxies: list[CuttableProxy] = []
    store.proxy = lambda: proxies.append(CuttableProxy(loop, store.server())) or proxies[-1]
    yield store
    for proxy in proxies:
        proxy.close()
    store.drop()
    loop.close()


def every(interval: float, duration: float, action, stop=lambda: False) -> int:
    """Call action() every `interval` seconds for `duration` seconds (or until stop());
    returns how many times it ran."""
    n, end = 0, time.monotonic() + duration
    while time.monotonic() < end and not stop():
        action()
        n += 1
        time.sleep(interval)
    return n
