"""What every command shares: the store location, and running one async core function."""

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")


class Options(NamedTuple):
    db: str
    debug: bool = False


def options(ctx: Any) -> Options:
    """The root Options of a typer context."""
    return ctx.find_root().obj


def with_store(ctx: Any, fn: Callable[[Any], Awaitable[T]]) -> T:
    return run_with_store(options(ctx).db, fn)


def reading_store(ctx: Any, fn: Callable[[Any], Awaitable[T]]) -> T:
    return run_reading(options(ctx).db, fn)


def run_with_store(db: str | None, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store named by --db / QUEUECTL_DB, run fn(store) on a fresh loop, close it."""
    import asyncio

    from ..store import open_store, resolve

    async def main() -> T:
        store = await open_store(resolve(db))
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


def run_reading(db: str | None, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Like run_with_store, for a fn that only reads. On SQLite it runs without asyncio or
    aiosqlite: a one-shot read is mostly start-up, and those imports are most of it."""
    from ..store import resolve, sqlite_path

    path = sqlite_path(resolve(db))
    if path is None:
        return run_with_store(db, fn)
    from ..store.sqlite_reads import SqliteSnapshot, run_without_loop

    store = SqliteSnapshot(path)
    try:
        return run_without_loop(fn(store))
    finally:
        run_without_loop(store.close())

