"""What every command shares: the store location, and running one async core function."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Options:
    db: str
    debug: bool = False


def options(ctx: Any) -> Options:
    """The root Options of a typer context."""
    return ctx.find_root().obj


def with_store(ctx: Any, fn: Callable[[Any], Awaitable[T]]) -> T:
    return run_with_store(options(ctx).db, fn)


def run_with_store(db: str | None, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store named by --db / QUEUECTL_DB, run fn(store) on a fresh loop, close it."""
    from ..store import open_store, resolve

    async def main() -> T:
        store = await open_store(resolve(db))
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def load_settings(store: Any):
    from ..settings import Settings

    return Settings.from_stored(await store.get_config())
