"""The store interface: job-level verbs, keyword-only, `now` (epoch ms) passed in.

Every backend implements these and passes tests/store/test_contract_*.py. Writes that end an attempt
are guarded by (job id, state 'processing', worker id, run_no) so a stale worker can never
overwrite a newer attempt.
"""

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Protocol

# The records the verbs take and return live in jobs.py (the lean read path imports them
# without this module); they are re-exported here as part of the interface.
from ..jobs import (  # noqa: F401
    Attempt,
    Beat,
    Chunk,
    Finish,
    Job,
    JobPage,
    JobState,
    Metrics,
    MinuteStats,
    NewJob,
    Output,
    OutputWrite,
    QueueInfo,
    Rescued,
    Schedule,
    WorkerInfo,
)


class Subscription(Protocol):
    async def close(self) -> None: ...


class Store(Protocol):
    url: str

    async def close(self) -> None: ...

    # jobs
    async def insert_jobs(self, jobs: Sequence[NewJob], *, now: int) -> list[Job]: ...
    async def claim_jobs(self, *, worker_id: str, limit: int, now: int,
                         queues: Sequence[str] | None = None) -> list[Job]:
        """One atomic statement (or transaction) per batch: at most `limit` due jobs, in
        priority then FIFO order, of `queues` (None: all), never of a paused queue, never a job
        waiting on `after`, never more running in a limited queue than its limit."""
        ...
    async def finish_jobs(
        self, finishes: Sequence[Finish], *, now: int, output: OutputWrite | None = None
    ) -> int:
        """One group commit: the guarded finishes, and streamed output (new pieces of running
        attempts and the last ones of finishing attempts, trims, drops) when given."""
        ...
    async def requeue_interrupted(
        self, *, worker_id: str, jobs: Collection[tuple[str, int]], now: int
    ) -> int:
        """Hand the given (job id, run_no) attempts of this worker back to `pending` uncharged
        (attempts and run_no as before the claim, no history row), guarded like a finish: a job
        killed by a hard stop, or one the worker could not start (NotStarted). Wakes workers."""
        ...
    async def rescue_lost_jobs(
        self, *, dead_workers: Collection[tuple[str, int]], now: int
    ) -> list[Rescued]:
        """Remove the given (worker id, last heartbeat seen) rows whose heartbeat has not moved,
        then return every job held by a worker with no row to the queue (the lost attempt counts)."""
        ...
    async def retry_dead(self, ids: Sequence[str] | None, *, now: int) -> list[str]: ...
    async def cancel_jobs(
        self, *, ids: Sequence[str] | None = None, batch: str | None = None,
        queue: str | None = None, now: int
    ) -> list[Job]:
        """pending/failed -> dead (`cancelled`), attempts unchanged; processing -> flagged
        cancel_requested for its worker (woken by the doorbell / NOTIFY, else told by its next
        heartbeat). Named ids must all exist and be unfinished, or nothing changes."""
        ...

    # reading
    async def get_job(self, job_id: str) -> Job: ...
    def iter_jobs(
        self, *, state: JobState | None = None, limit: int | None = None,
        batch: str | None = None,
    ) -> AsyncIterator[Job]: ...
    async def page_jobs(
        self, *, state: JobState | None = None, text: str | None = None,
        queue: str | None = None, batch: str | None = None,
        before: int | None = None, after: int | None = None, limit: int = 50,
    ) -> JobPage:
        """Newest first; `text` matches a substring of the id or the command; the filters
        combine. Cursors come from the JobPage of a neighbouring page. A text or two exact
        filters at once page by window (`newer` is None, a page may hold fewer than `limit`
        jobs before `older`)."""
        ...
    async def activity(self, *, now: int, minutes: int = 60) -> list[MinuteStats]:
        """Completed and failed attempts per wall-clock minute, oldest first, zeros included."""
        ...
    async def count_by_state(self) -> dict[str, int]: ...
    async def next_due_at(self) -> int | None: ...
    async def attempts(self, job_id: str) -> list[Attempt]: ...
    async def output(self, job_id: str, attempt: int | None) -> Output: ...
    async def output_chunks(
        self, job_id: str, run_no: int, *, after: int = 0, limit: int = 1000
    ) -> list[Chunk]: ...
    async def metrics(self, *, now: int) -> Metrics: ...

    # queues (flow control)
    async def set_queues(self, names: Sequence[str], *, paused: bool | None = None,
                         limit: int | None = None) -> None: ...
    async def list_queues(self) -> list[QueueInfo]: ...
    async def queue_settings(self) -> list[tuple[str, bool, int]]:
        """(name, paused, limit) of every queue that has settings, by name; reads no job."""
        ...
    async def runnable_counts(self, queues: Sequence[str] | None) -> tuple[int, int]: ...
    async def dependency_edges(self) -> list[tuple[str, str]]:
        """(dep_id, job_id) of every job still waiting on `after`, by dep_id then job_id."""

    # schedules
    async def add_schedule(self, schedule: Schedule) -> None: ...
    async def remove_schedule(self, name: str) -> None: ...
    async def list_schedules(self) -> list[Schedule]: ...
    async def due_schedules(self, *, now: int) -> list[Schedule]: ...
    async def fire_schedule(self, *, name: str, expected: int, next_run: int | None,
                            job: NewJob, now: int) -> bool:
        """Enqueue one run iff the schedule's next_run is still `expected`, moving it to
        `next_run` in the same transaction; False when another worker fired it."""

    # scripting (Part 2): what `wait` watches, what `purge` and retention delete
    async def get_jobs(self, ids: Sequence[str]) -> list[Job]: ...
    async def job_states(self, ids: Sequence[str]) -> dict[str, str]: ...
    async def batch_counts(self, batch: str) -> dict[str, int]: ...
    async def unfinished_ids(self, *, queue: str | None = None) -> list[str]: ...
    async def purge_jobs(self, *, state: JobState, before: int, limit: int,
                         batch: str | None = None, dry_run: bool = False) -> int:
        """Delete (dry_run: count) up to `limit` jobs in `state` -- completed or dead, never
        another -- last updated before `before`, with their history and output."""
        ...

    # config
    async def get_config(self) -> dict[str, str]: ...
    async def set_config(self, key: str, value: str) -> None: ...

    # workers
    async def register_worker(self, info: WorkerInfo) -> None: ...
    async def heartbeat(self, *, worker_id: str, running: int, now: int) -> Beat | None: ...
    async def deregister_worker(self, worker_id: str) -> None: ...
    async def list_workers(self) -> list[WorkerInfo]: ...
    async def request_stop(self) -> list[str]: ...
    async def subscribe(self, worker_id: str, on_wakeup: Callable[[bytes], None]) -> Subscription:
        """Call on_wakeup(b"jobs" | b"stop") when work arrives or a stop is requested.

        Best effort: the engine polls as a fallback, so a lost wake-up only costs latency."""
        ...
