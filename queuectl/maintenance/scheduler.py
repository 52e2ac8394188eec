"""The scheduler: every running worker enqueues the due runs of cron schedules.

Exactly once across workers and machines: a run is enqueued by `store.fire_schedule`, a
compare-and-set on the schedule's stored `next_run` together with the job's insert, in one
transaction; a worker that loses the race (or dies before its commit) has enqueued nothing.
No replay storm: after downtime only the latest missed run is enqueued (schedules.due).
"""

import asyncio
from collections.abc import Callable

from .. import schedules
from ..timeutil import format_ms, now_ms

TICK_S = 1.0  # how late a run may start; one indexed read per tick when nothing is due


class Scheduler:
    def __init__(self, store, *, log: Callable[[str], None],
                 clock: Callable[[], int] = now_ms, tick_s: float = TICK_S) -> None:
        self.store, self._log, self._clock, self.tick_s = store, log, clock, tick_s

    async def run(self) -> None:
        """Tick until cancelled; a failing tick is logged and retried at the next one."""
        while True:
            try:
                await self.run_once(self._clock())
            except Exception as exc:  # noqa: BLE001 - a bad schedule must not stop the worker
                self._log(f"scheduler: {exc}")
            await asyncio.sleep(self.tick_s)

    async def run_once(self, now: int) -> int:
        """Enqueue every schedule's due run that no other worker has; returns how many."""
        fired = 0
        for schedule in await self.store.due_schedules(now=now):
            due = schedules.due(schedule.cron, schedule.zone, next_run=schedule.next_run, now=now)
            if due is None:
                continue
            job = schedule.run_job(due.run_at)
            if await self.store.fire_schedule(name=schedule.name, expected=schedule.next_run,
                                              next_run=due.next_run, job=job, now=now):
                fired += 1
                self._log(f"schedule {schedule.name}: enqueued {job.id}; next run "
                          f"{format_ms(due.next_run) or 'never'}")
        return fired
