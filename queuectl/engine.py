"""The worker: one event loop, N job slots, batched claims and group-committed outcomes.

Tasks: the claim loop (this coroutine), one task per running job (a slot), and named side
tasks -- heartbeat, rescuer, flusher, scheduler, cleaner -- in one TaskGroup, so a side task
that dies stops the worker loudly instead of leaving it half alive (the cleaner, maintenance/
cleaner.py, logs its own failures and carries on: retention can always wait).

Wake-ups: a doorbell from the store (enqueue, retry, stop), a slot freeing, and the earliest
known `run_at` (a heap); polling every POLL_S is only the fallback.
"""

import asyncio
import contextlib
import heapq
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from .decide import decide
from .jobs import Finish, Job, JobState, OutputWrite, RunResult, WorkerInfo
from .maintenance.cleaner import Cleaner
from .maintenance.rescuer import JOB_VAR, WORKER_VAR, Rescuer
from .runner import NotStarted, run_command
from .settings import Settings
from .slots import OutputStreamer, Slot, StopReason
from .store.base import Store
from .store.doorbell import CANCEL, STOP
from .timeutil import format_ms, now_ms
from .workers import this_host

POLL_S = 1.0  # idle fallback when no doorbell rings (other hosts, non-Linux)
DRAIN_POLL_S = 0.05  # --drain while other workers still hold jobs: notice their end quickly
HEAP_LIMIT = 1024
OVERDUE_SPINS = 2  # claim again at once this often for a run_at already due (see _idle_wait)
# After a spawn failure of the worker's own (NotStarted): claim nothing for a moment (longer
# while it keeps happening), then run at most the jobs that did start, for CEILING_S.
PAUSE_MIN_S, PAUSE_MAX_S = 0.25, 5.0
CEILING_S = 5.0
FAILURE_POLICY = ("backoff-base", "backoff-max")  # re-read from the store at every failure

Runner = Callable[..., Awaitable[RunResult]]


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        settings: Settings,
        concurrency: int,
        drain: bool = False,
        queues: list[str] | None = None,
        runner: Runner = run_command,
        log: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.settings, self.concurrency, self.drain = store, settings, concurrency, drain
        self.queues = queues  # None: every queue
        self.runner = runner
        self.host, self.pid = this_host(), os.getpid()
        self.worker_id = f"{self.host}-{self.pid}-{os.urandom(2).hex()}"
        self._log = log or _stderr_line
        self._slots: dict[str, Slot] = {}
        self._wake = asyncio.Event()
        self._heap: list[int] = []
        self._overdue_rounds = 0  # consecutive idle waits that found a run_at already due
        self._outcomes: list[tuple[Slot, Finish]] = []  # decided and logged, not yet committed
        self._streamer = OutputStreamer(settings.output_interval)
        self._flush_wanted = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._interrupted: list[tuple[str, int]] = []
        self._unstarted: list[tuple[str, int]] = []  # NotStarted: to hand back uncharged
        self._unstarted_reason = ""
        self._ceiling, self._ceiling_until = concurrency, 0.0  # slots after a NotStarted
        self._pause_s, self._paused_until = 0.0, 0.0
        self._monotonic = monotonic
        self._rescuer = Rescuer(store, worker_id=self.worker_id, host=self.host,
                                lease_s=settings.worker_lease, monotonic=monotonic,
                                log=self.log, on_rescued=self._wake.set)
        self._stopping = False
        self._killing = False  # a hard stop has begun
        self._closing = False
        self._exit_code = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped (or drained). Returns the process exit code."""
        os.environ[WORKER_VAR] = self.worker_id  # inherited by every job (set once: cheaper)
        await self.store.register_worker(self._info(now_ms()))
        subscription = await self.store.subscribe(self.worker_id, self._on_bell)
        serving = "" if self.queues is None else f", queues {','.join(self.queues)}"
        self.log(f"worker {self.worker_id} started: concurrency {self.concurrency}{serving}, "
                 f"store {self.store.url}")
        try:
            async with asyncio.TaskGroup() as group:
                heartbeat = group.create_task(self._heartbeat_loop(), name="heartbeat")
                rescuer = group.create_task(self._rescuer.run(now_ms), name="rescuer")
                scheduler = group.create_task(self._scheduler().run(), name="scheduler")
                flusher = group.create_task(self._flush_loop(), name="flusher")
                cleaner = group.create_task(Cleaner(self.store, log=self.log).run(now_ms),
                                            name="cleaner")
                await self._claim_loop(group)
                await self._wait_for_slots()
                self._closing = True
                self._flush_wanted.set()
                await flusher  # every outcome is durable before the worker leaves
                heartbeat.cancel()
                rescuer.cancel()
                scheduler.cancel()
                cleaner.cancel()
        finally:
            with contextlib.suppress(Exception):
                await self._flush()  # outcomes still buffered when a hard stop cut in
            await self._requeue_interrupted()
            await subscription.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.deregister_worker(self.worker_id))
        self.log(f"worker {self.worker_id} stopped")
        return self._exit_code

    def stop(self, *, hard: bool = False, exit_code: int = 0) -> None:
        """Soft: claim nothing new, let running jobs finish. Hard: kill them and requeue.
        Once a hard stop has begun, stopping again changes nothing: cancelling a slot a second
        time would interrupt the kill of its process group."""
        if hard and not self._killing:
            self._killing = True
            self._exit_code = exit_code
            for slot in list(self._slots.values()):
                slot.stop(StopReason.SHUTDOWN)
        elif not self._stopping:
            self.log(f"stopping: waiting for {len(self._slots)} running job(s); "
                     "signal again to kill them")
        self._stopping = True
        self._wake.set()

    def on_signal(self, signum: int) -> None:
        """First signal: soft stop. Second: hard stop, exit 128 + signal number."""
        self.stop(hard=self._stopping, exit_code=128 + signum)

    # -- claiming -----------------------------------------------------------------------

    async def _claim_loop(self, group: asyncio.TaskGroup) -> None:
        while not self._stopping:
            self._wake.clear()
            free = self._capacity() - len(self._slots)
            if free <= 0:  # (a lowered capacity comes back by itself: wake up for that too)
                left = self._ceiling_until - time.monotonic()
                await self._woken_within(left if left > 0 else None)
                continue
            if time.monotonic() < self._paused_until:
                await self._sit_out_pause()
                continue
            jobs = await self.store.claim_jobs(worker_id=self.worker_id, limit=free, now=now_ms(),
                                               queues=self.queues)
            if self._stopping:  # a stop arrived during the claim: hand these back uncharged
                self._interrupted.extend((job.id, job.run_no) for job in jobs)
                return
            for job in jobs:
                self._start_slot(group, job)
            if len(jobs) == free:
                continue
            poll = POLL_S
            if self.drain and not self._slots:
                unfinished = await self._unfinished()
                if not unfinished:
                    self.log("drained: nothing left that this worker could run")
                    return
                if unfinished == JobState.PROCESSING:
                    poll = DRAIN_POLL_S
            await self._idle_wait(poll)

    def _capacity(self) -> int:
        return self._ceiling if time.monotonic() < self._ceiling_until else self.concurrency

    async def _sit_out_pause(self) -> None:
        """Claim nothing until the pause after a NotStarted ends (or the worker stops)."""
        while not self._stopping and (left := self._paused_until - time.monotonic()) > 0:
            self._wake.clear()
            await self._woken_within(left)

    async def _woken_within(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _idle_wait(self, poll: float) -> None:
        """Sleep until a doorbell, a freed slot, the next known run_at, or the poll fallback.

        A run_at that is already due ends the wait at once: it came due while the claim before
        ran (run_ats milliseconds apart, a retry another worker scheduled). If it is still not
        claimable after OVERDUE_SPINS rounds, someone else holds it: back off towards the poll."""
        due = await self.store.next_due_at()
        if due is not None:
            self._remember_wakeup(due)
        now = now_ms()
        overdue = bool(self._heap) and self._heap[0] <= now
        while self._heap and self._heap[0] <= now:
            heapq.heappop(self._heap)
        self._overdue_rounds = self._overdue_rounds + 1 if overdue else 0
        if overdue and self._overdue_rounds <= OVERDUE_SPINS:
            return
        timeout = poll
        if overdue:
            timeout = min(timeout, 0.005 * 2 ** self._overdue_rounds)
        if self._heap:
            timeout = min(timeout, (self._heap[0] - now) / 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(timeout, 0.001))

    def _remember_wakeup(self, at: int) -> None:
        if at in self._heap:
            return
        heapq.heappush(self._heap, at)
        if len(self._heap) > HEAP_LIMIT:  # keep the earliest half; the store knows the rest
            self._heap = heapq.nsmallest(HEAP_LIMIT // 2, self._heap)

    async def _unfinished(self) -> JobState | None:
        """None when drained; PROCESSING when only other workers' running jobs are left.
        Counts only what this worker could still run: the queues it serves, not paused; a job
        waiting on `after` counts (it is pending) until its dependencies end."""
        due, running = await self.store.runnable_counts(self.queues)
        if due:
            return JobState.PENDING
        return JobState.PROCESSING if running else None

    async def _wait_for_slots(self) -> None:
        while self._slots:
            await asyncio.wait([slot.task for slot in self._slots.values()])

    # -- one job --------------------------------------------------------------------------

    def _start_slot(self, group: asyncio.TaskGroup, job: Job) -> None:
        slot = Slot(job, self.settings.output_limit, self._monotonic())
        slot.task = group.create_task(self._run_slot(slot), name=f"job {job.id}")
        self._slots[job.id] = slot
        self._streamer.arm(self._flush_wanted.set, running=True)

    async def _run_slot(self, slot: Slot) -> None:
        job = slot.job
        try:
            result = await self._execute(slot)
        except NotStarted as exc:
            self._hand_back(job, exc.reason)
        except asyncio.CancelledError:  # hard stop: the runner has killed the process group
            if slot.reason is StopReason.CANCELLED:  # ... of a job being cancelled: still dead
                await self._conclude(slot, slot.cancelled_result())
                return
            self._interrupted.append((job.id, job.run_no))
            self.log_job("requeued", job, "interrupted before it finished; attempt not counted")
        else:
            await self._conclude(slot, result)
        finally:
            self._slots.pop(job.id, None)
            self._wake.set()

    async def _execute(self, slot: Slot) -> RunResult:
        job = slot.job
        if time.monotonic() < self._paused_until:  # the last spawn failed: do not even try
            raise NotStarted(self._unstarted_reason)
        self.log_job("started", job)
        timeout = job.timeout or self.settings.job_timeout or None
        try:
            return await self.runner(
                job.command,
                timeout=timeout,
                output_limit=self.settings.output_limit,
                kill_grace=self.settings.kill_grace,
                env_update={JOB_VAR: job.id},
                cwd=job.cwd,  # None for jobs from before Part 2: they run where the worker runs
                extra_env=job.env,
                captures=slot.captures,
                abort=slot.abort,
            )
        except (OSError, ValueError, RuntimeError) as exc:  # e.g. out of file descriptors
            now = now_ms()
            return RunResult(None, f"could not run: {exc}", now, now, 0.0)

    async def _conclude(self, slot: Slot, result: RunResult) -> None:
        """Decide and log the outcome before the slot frees, so the log reads in the order
        things happened; the write joins the next group commit while claiming goes on."""
        job = slot.job
        if not result.ok and slot.reason is not StopReason.CANCELLED:
            await self._read_failure_policy()
        finish = self._decide(slot, result)
        self.log_job(finish.transition.state.value, job, _describe(result, finish.transition))
        self._outcomes.append((slot, finish))
        self._flush_wanted.set()

    def _hand_back(self, job: Job, reason: str) -> None:
        """The worker could not start the job (no descriptor, process or memory left): it goes
        back to pending uncharged, with the next group commit. Claiming pauses, then runs at
        most the jobs that did start for CEILING_S, so a limit that persists costs one
        hand-back every CEILING_S instead of a claim-and-hand-back loop."""
        self._unstarted.append((job.id, job.run_no))
        self._unstarted_reason = reason
        now = time.monotonic()
        if now >= self._paused_until:  # the first of a burst (the rest fail at once: paused)
            recent = now < self._paused_until + 2 * self._pause_s
            self._pause_s = min(PAUSE_MAX_S, self._pause_s * 2) if recent else PAUSE_MIN_S
            self._paused_until = now + self._pause_s
            self._ceiling = len(self._slots)  # this job's slot included, taken off below
        self._ceiling = max(1, self._ceiling - 1)
        self._ceiling_until = now + CEILING_S
        self._flush_wanted.set()

    async def _read_failure_policy(self) -> None:
        """The contract: backoff-base is read when a failure happens, not at start-up. A hard
        stop cutting the read short must not lose a finished attempt: the last policy decides."""
        with contextlib.suppress(asyncio.CancelledError):
            stored = await self.store.get_config()
            self.settings = self.settings.overlay(stored, FAILURE_POLICY)

    def _cancel(self, job_ids: Sequence[str]) -> None:
        """Jobs of this worker that `queuectl cancel` asked to stop (via the heartbeat)."""
        for job_id in job_ids:
            slot = self._slots.get(job_id)
            if slot is not None and slot.reason is None:
                self.log_job("cancel", slot.job, "cancel requested: stopping its process group")
                slot.stop(StopReason.CANCELLED)

    async def _flush_loop(self) -> None:
        while not (self._closing and not self._outcomes and not self._unstarted):
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            await self._flush()
        self._streamer.close()

    async def _flush(self) -> None:
        batch, self._outcomes = self._outcomes, []
        output = self._streamer.collect(
            self._slots.values(), [slot for slot, _ in batch], worker_id=self.worker_id,
            mono=self._monotonic(), closing=self._closing)
        self._streamer.arm(self._flush_wanted.set, running=bool(self._slots))
        if batch or output:  # shielded as a whole: a cancel must not lose an outcome popped
            await asyncio.shield(self._commit([finish for _, finish in batch], output))
        unstarted, self._unstarted = self._unstarted, []
        if unstarted:
            await asyncio.shield(self._requeue_unstarted(unstarted))

    async def _requeue_unstarted(self, jobs: list[tuple[str, int]]) -> None:
        await self.store.requeue_interrupted(worker_id=self.worker_id, jobs=jobs, now=now_ms())
        self._wake.set()
        self.log(f"could not start {len(jobs)} job(s): {self._unstarted_reason} (a limit of this "
                 f"worker, not of the jobs); back to pending without using an attempt; claiming "
                 f"paused {self._pause_s:g}s, then at most {self._ceiling} jobs at once for "
                 f"{CEILING_S:g}s")

    async def _commit(self, batch: list[Finish], output: OutputWrite | None) -> None:
        """Write the decided outcomes and streamed output in one group commit (each outcome
        was logged when decided)."""
        await self.store.finish_jobs(batch, now=now_ms(), output=output)
        if batch:
            self._wake.set()  # a drain check or a freed slot may be waiting on this commit

    def _decide(self, slot: Slot, result: RunResult) -> Finish:
        job = slot.job
        transition = decide(
            attempts=job.attempts, max_retries=job.max_retries, result=result,
            base=self.settings.backoff_base, cap=self.settings.backoff_max, now=result.finished_at,
            cancelled=slot.reason is StopReason.CANCELLED and not result.ok,
        )
        if transition.run_at is not None:
            self._remember_wakeup(transition.run_at)
        return Finish(job.id, self.worker_id, job.run_no, transition, result)

    async def _requeue_interrupted(self) -> None:
        if not self._interrupted:
            return
        jobs, self._interrupted = self._interrupted, []
        with contextlib.suppress(Exception):
            await asyncio.shield(self.store.requeue_interrupted(
                worker_id=self.worker_id, jobs=jobs, now=now_ms()))

    # -- heartbeat and rescue -----------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), self.settings.heartbeat_interval)
            self._beat_now.clear()
            beat = await self.store.heartbeat(
                worker_id=self.worker_id, running=len(self._slots), now=now_ms())
            if beat is None:
                self.log("this worker was presumed dead and its row removed; registering again")
                await self.store.register_worker(self._info(now_ms()))
                continue
            self._cancel(beat.cancel)
            if beat.stop_requested and not self._stopping:
                self.log("stop requested by `queuectl worker stop`")
                self.stop()

    async def rescue_once(self) -> int:
        return await self._rescuer.run_once(now_ms())

    def _scheduler(self):
        from .maintenance.scheduler import Scheduler  # imports cronsim: only for a worker

        return Scheduler(self.store, log=self.log)

    def _on_bell(self, message: bytes) -> None:
        if message in (STOP, CANCEL):
            self._beat_now.set()  # the heartbeat reads stop and cancel requests from the store
        self._wake.set()

    def _info(self, now: int) -> WorkerInfo:
        return WorkerInfo(self.worker_id, self.pid, self.host, self.concurrency, now, now,
                          len(self._slots))

    # -- logging ------------------------------------------------------------------------

    def log(self, text: str) -> None:
        self._log(f"{format_ms(now_ms())} {text}")

    def log_job(self, event: str, job: Job, detail: str = "") -> None:
        # the run number: what `show` lists and `logs --attempt` takes, also after `dlq retry`
        self.log(f"{event:<9} {job.id} attempt {job.run_no}" + (f": {detail}" if detail else ""))


def prefer_pidfd_child_watcher() -> None:
    """On Python 3.11 use the pidfd child watcher (3.12+ does by default): one fd per child
    instead of one waitpid thread per child, about 30% more spawns per second here."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return  # kernel without pidfd (< 5.3)
    from .childwatch import ResilientPidfdWatcher  # asyncio's, minus losing a child on EMFILE

    asyncio.set_child_watcher(ResilientPidfdWatcher())


def _describe(result: RunResult, transition) -> str:
    took = f"{result.duration:.3f}s"
    if transition.state == JobState.COMPLETED:
        return f"exit 0 in {took}"
    if transition.state == JobState.FAILED:
        return f"{result.error} in {took}; retry at {format_ms(transition.run_at)}"
    return f"{result.error} in {took}; moved to the dead letter queue"


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")

