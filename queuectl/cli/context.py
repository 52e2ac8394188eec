"""What every command shares: the store location, and running one async core function."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import typer

T = TypeVar("T")


@dataclass
class Options:
    db: str
    debug: bool = False


def options(ctx: typer.Context) -> Options:
    return ctx.find_root().obj


def with_store(ctx: typer.Context, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store named by --db / QUEUECTL_DB, run fn(store) on a fresh loop, close it."""
    from ..store import open_store

    async def main() -> T:
        store = await open_store(options(ctx).db)
        try:
            return await fn(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def load_settings(store: Any):
    from ..settings import Settings

    return Settings.from_stored(await store.get_config())
