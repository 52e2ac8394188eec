"""Retention: running workers delete finished jobs older than `keep-completed` / `keep-dead`.

What goes: completed (or dead) jobs whose last update is older than the setting, with their
attempt history and output -- never a pending, failed or processing job: the store verb
re-checks the state inside the deleting transaction (under SQLite's write lock, or on the
row locked FOR UPDATE on PostgreSQL), so a job that `dlq retry` revives a moment earlier is
skipped. Work comes in slices of SLICE jobs, one short transaction each with a pause between,
so claims and finishes of every worker get the store in between; freed pages are reused, so a
store under steady load stops growing (benchmarks/README, soak).
"""

import asyncio
import random
from collections.abc import Callable, Iterable

from ..jobs import JobState
from ..settings import Settings

SLICE = 500  # ~5 ms of SQLite write lock per slice at 2 attempts a job
PAUSE_S = 0.02  # between slices: other writers take the lock meanwhile
MAX_INTERVAL_S = 60.0
MIN_INTERVAL_S = 1.0


async def purge(store, *, states: Iterable[JobState], before: int, batch: str | None = None,
                dry_run: bool = False, slice_size: int = SLICE, pause: float = 0.0) -> int:
    """Delete (dry_run: count) the finished jobs of `states` last updated before `before`,
    a slice at a time until one comes back short; returns how many."""
    total = 0
    for state in states:
        if dry_run:
            total += await store.purge_jobs(state=state, before=before, limit=0, batch=batch,
                                            dry_run=True)
            continue
        while True:
            done = await store.purge_jobs(state=state, before=before, limit=slice_size,
                                          batch=batch)
            total += done
            if done < slice_size:
                break
            await asyncio.sleep(pause)
    return total


class Cleaner:
    def __init__(self, store, *, log: Callable[[str], None], pause: float = PAUSE_S) -> None:
        self.store, self._log, self._pause = store, log, pause
        self.settings = Settings()

    async def run_once(self, now: int) -> int:
        """One pass with the stored settings (re-read each time: `config set` applies to
        running workers); returns how many jobs it deleted."""
        self.settings = Settings.from_stored(await self.store.get_config())
        deleted = 0
        for state, keep in self._kept():
            deleted += await purge(self.store, states=[state], before=now - round(keep * 1000),
                                   pause=self._pause)
        return deleted

    def _kept(self) -> list[tuple[JobState, float]]:
        kept = ((JobState.COMPLETED, self.settings.keep_completed),
                (JobState.DEAD, self.settings.keep_dead))
        return [(state, keep) for state, keep in kept if keep > 0]  # 0 = forever

    def interval(self) -> float:
        """Often enough that nothing outlives its setting by more than half of it, at most a
        minute apart; randomised so the workers of a store do not all clean at once."""
        shortest = min((keep for _, keep in self._kept()), default=MAX_INTERVAL_S * 2)
        base = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, shortest / 2))
        return base * random.uniform(0.8, 1.2)

    async def run(self, now: Callable[[], int]) -> None:
        """Forever: a pass, then a pause. A failing pass is logged and retried later; it never
        stops the worker (retention can always wait)."""
        await asyncio.sleep(MIN_INTERVAL_S * random.uniform(1, 3))  # not on the start-up path
        while True:
            try:
                deleted = await self.run_once(now())
            except Exception as exc:  # noqa: BLE001 - logged; the next pass tries again
                self._log(f"retention: {type(exc).__name__}: {exc}; will retry")
                deleted = 0
            if deleted:
                self._log(f"retention: deleted {deleted} finished job(s)")
            await asyncio.sleep(self.interval())
