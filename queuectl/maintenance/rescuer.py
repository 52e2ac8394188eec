"""The rescuer: every worker returns the jobs of dead workers to the queue, and on its own host
kills what is left of them first (DECISIONS §2).

Death is decided by HeartbeatWatch (workers.py): a same-host worker whose pid is gone is dead at
once; any other when its heartbeat value has stood still for a lease of *our* monotonic clock."""

import asyncio
from collections.abc import Callable

from ..jobs import JobState
from ..procgroups import end_tagged_groups
from ..workers import HeartbeatWatch, pid_alive

# Every job's environment names its worker and itself, so a rescuer on the same host can find
# the processes of a dead worker's jobs -- and only those (end_tagged_groups).
WORKER_VAR, JOB_VAR = "QUEUECTL_WORKER_ID", "QUEUECTL_JOB_ID"
TAGS = (WORKER_VAR, JOB_VAR)


class Rescuer:
    def __init__(self, store, *, worker_id: str, host: str, lease_s: float,
                 monotonic: Callable[[], float], log: Callable[[str], None],
                 on_rescued: Callable[[], None]) -> None:
        self.store, self.worker_id, self.host, self.lease_s = store, worker_id, host, lease_s
        self._watch = HeartbeatWatch(host=host, lease_s=lease_s)
        self._monotonic, self._log, self._on_rescued = monotonic, log, on_rescued

    async def run(self, now: Callable[[], int]) -> None:
        # lease/10: a death is seen at most one tick after the lease (12 s at defaults)
        while True:
            await self.run_once(now())
            await asyncio.sleep(self.lease_s / 10)

    async def run_once(self, now: int) -> int:
        """Return jobs of dead workers to the queue; on this host, kill what is left of them."""
        workers = [w for w in await self.store.list_workers() if w.id != self.worker_id]
        dead = self._watch.dead(workers, mono=self._monotonic())
        gone = {w.id for w in dead if w.host == self.host and not pid_alive(w.pid)}
        if gone:  # certainly dead: their jobs' processes die *before* the jobs are requeued
            held = [(job.worker_id, job.id) async for job in
                    self.store.iter_jobs(state=JobState.PROCESSING) if job.worker_id in gone]
            await end_tagged_groups(TAGS, held)
        rescued = await self.store.rescue_lost_jobs(
            dead_workers=[(w.id, w.heartbeat_at) for w in dead], now=now)
        hung = {w.id for w in dead if w.host == self.host} - gone  # alive but silent a lease
        await end_tagged_groups(TAGS, [(j.worker_id, j.job_id) for j in rescued if j.worker_id in hung])
        for job in rescued:
            self._log(f"rescued  {job.job_id} from lost worker {job.worker_id} -> {job.state}")
        if rescued:
            self._on_rescued()
        return len(rescued)
