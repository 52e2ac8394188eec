"""Keyset paging shared by the backends: `list` at a million rows never holds them all."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .rows import SEQ  # every page row is JOB_COLUMNS followed by seq, the enqueue-order key


async def pages(fetch: Callable[[int, int], Awaitable[list[Any]]], *, limit: int | None,
                chunk: int) -> AsyncIterator[Any]:
    """Rows in seq order from fetch(after_seq, size), `chunk` at a time, `limit` in all."""
    after, left = 0, limit
    while left is None or left > 0:
        size = chunk if left is None else min(chunk, left)
        rows = await fetch(after, size)
        for row in rows:
            yield row
        if len(rows) < size:
            return
        after = rows[-1][SEQ]
        left = None if left is None else left - len(rows)
