"""The queues as `queue list` shows them, kept cheap for a dashboard that is always open.

The per-queue counts are a GROUP BY over every job (`store.list_queues`): about 0.3 s on
PostgreSQL and 2 s on SQLite at 10^6 jobs on a 2-core machine. So they are counted in the
background, again only after 20 times the last count's duration (at most 5 % of the time, and
every few seconds on a small store), while every read is served from the last count. The
settings (paused, limit) are one small table, read fresh on every request: a pause shows at
once, wherever it was made."""

import asyncio
import time
from typing import Any

from ..jobs import QueueInfo, queue_infos

BUDGET = 20  # wait this many times the last count's duration before counting again
MIN_AGE_S, MAX_AGE_S = 2.0, 60.0


class QueueCounts:
    def __init__(self) -> None:
        self._rows: list[tuple[str, str, int]] | None = None
        self.counted_at = 0.0  # time.monotonic() of the count being served
        self._max_age = MIN_AGE_S
        self._task: asyncio.Task | None = None

    async def queues(self, store: Any) -> list[QueueInfo]:
        """Every queue with jobs or settings, by name: fresh settings, the last counts."""
        rows = await self._count_rows(store)
        return queue_infos(rows, await store.queue_settings())

    async def names(self, store: Any) -> list[str]:
        """The queue names known now, never waiting for a count (the job list's suggestions):
        those with settings, and those of the last count (one is started if there is none)."""
        if self._rows is None or self.age() >= self._max_age:
            self._start(store)
        counted = {name for name, _, _ in self._rows or ()}
        return sorted(counted | {name for name, _, _ in await store.queue_settings()})

    def age(self) -> float:
        return time.monotonic() - self.counted_at

    async def _count_rows(self, store: Any) -> list[tuple[str, str, int]]:
        if self._rows is None:
            await self._start(store)  # nothing to serve yet: the first request waits
        elif self.age() >= self._max_age:
            self._start(store)
        assert self._rows is not None
        return self._rows

    def _start(self, store: Any) -> asyncio.Task:
        """The running count, or a new one: never two at once."""
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._count(store))
            self._task.add_done_callback(_retrieve)
        return self._task

    async def _count(self, store: Any) -> None:
        started = time.monotonic()
        infos = await store.list_queues()
        took = time.monotonic() - started
        self._rows = [(q.name, state, n) for q in infos for state, n in q.counts.items() if n]
        self.counted_at = time.monotonic()
        self._max_age = min(max(BUDGET * took, MIN_AGE_S), MAX_AGE_S)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()


def _retrieve(task: asyncio.Task) -> None:
    """A background count that failed (the store went away) keeps the last counts; the next
    stale read tries again. The awaited first count raises to its request instead."""
    if not task.cancelled():
        task.exception()
