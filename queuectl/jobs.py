"""The job model: states, the immutable records that cross module boundaries, and outcomes.

Records are NamedTuples rather than dataclasses: defining a dataclass costs over 1 ms at import
(and `dataclasses` pulls in `inspect`), which one-shot commands like `status` pay on every run."""

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple


class JobState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    DEAD = "dead"


STATES: tuple[str, ...] = tuple(s.value for s in JobState)
STATE_NAMED = {s.value: s for s in JobState}  # a dict lookup: JobState(name) costs ~1 us a row
DUE_STATES = (JobState.PENDING, JobState.FAILED)
UNFINISHED_STATES = (JobState.PENDING, JobState.FAILED, JobState.PROCESSING)
FINISHED_STATES = (JobState.COMPLETED, JobState.DEAD)
DEFAULT_QUEUE = "default"


class NewJob(NamedTuple):
    """A validated job document, ready to insert. Times are epoch milliseconds."""

    id: str
    command: str
    max_retries: int | None = None  # None: take config max-retries at insert
    priority: int = 0
    run_at: int | None = None  # None: due now
    timeout: float | None = None  # None: config job-timeout applies when it runs
    # Part 2 (CLI.md "More job fields")
    queue: str = DEFAULT_QUEUE
    batch: str | None = None  # spec.build_jobs always sets one; None only in old call sites
    cwd: str | None = None  # None: the command runs where the worker runs
    env: Mapping[str, str] | None = None  # None = {}
    unique_key: str | None = None
    after: tuple[str, ...] = ()

    def with_default_retries(self, max_retries: int) -> "NewJob":
        if self.max_retries is not None:
            return self
        return self._replace(max_retries=max_retries)


class Job(NamedTuple):
    id: str
    command: str
    state: JobState
    attempts: int
    max_retries: int
    priority: int
    run_at: int
    timeout: float | None
    exit_code: int | None
    last_error: str | None
    created_at: int
    updated_at: int
    worker_id: str | None = None
    started_at: int | None = None  # of the attempt in progress
    run_no: int = 0  # executions ever started; numbers the attempt history across DLQ retries
    queue: str = DEFAULT_QUEUE
    batch: str | None = None  # None only for jobs enqueued before Part 2
    cwd: str | None = None  # None only for jobs enqueued before Part 2: run in the worker's cwd
    env: Mapping[str, str] | None = None  # None = {}
    unique_key: str | None = None
    after: tuple[str, ...] = ()

    @property
    def next_retry_at(self) -> int | None:
        return self.run_at if self.state == JobState.FAILED else None


class RunResult(NamedTuple):
    """What running one command produced. Times are epoch ms; duration is monotonic seconds."""

    exit_code: int | None
    error: str | None  # None exactly when the attempt succeeded
    started_at: int
    finished_at: int
    duration: float
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def ok(self) -> bool:
        return self.error is None


class Transition(NamedTuple):
    """Where a finished attempt sends its job: decided by decide.py, written by the store."""

    state: JobState
    run_at: int | None  # the next due time for FAILED; None keeps the old value


class Finish(NamedTuple):
    """One attempt's end, as the engine hands it to the store (guarded by worker and run_no)."""

    job_id: str
    worker_id: str
    run_no: int
    transition: Transition
    result: RunResult


class Attempt(NamedTuple):
    """One row of a job's attempt history."""

    n: int
    worker_id: str | None
    started_at: int
    finished_at: int | None
    exit_code: int | None
    error: str | None
    duration: float | None


class WorkerInfo(NamedTuple):
    id: str
    pid: int
    host: str
    concurrency: int
    started_at: int
    heartbeat_at: int
    running: int = 0
    stop_requested: bool = False


class Rescued(NamedTuple):
    job_id: str
    state: JobState  # pending again, or dead when the lost attempt was its last
    worker_id: str


class Metrics(NamedTuple):
    completed_last_minute: int
    failed_last_minute: int
    completed_last_hour: int
    failed_last_hour: int
    mean_duration: float | None
    p95_duration: float | None


class Output(NamedTuple):
    attempt: int
    stdout: bytes
    stderr: bytes


class JobPage(NamedTuple):
    """One page of jobs, newest first, with the keyset cursors of its neighbours."""

    jobs: list[Job]
    older: int | None  # pass as `before` for the next page; None on the last page
    newer: int | None  # pass as `after` for the previous page; None on the first page


class MinuteStats(NamedTuple):
    """Attempts that finished within one wall-clock minute (start: epoch ms)."""

    start: int
    completed: int
    failed: int
    duration_sum: float  # seconds, over the attempts with a duration
    timed: int  # attempts with a duration (a lost worker's attempt has none)
class QueueInfo(NamedTuple):
    """A queue as `queue list` shows it: its settings and how many of its jobs are in each state."""

    name: str
    paused: bool
    limit: int  # 0 = no limit
    counts: dict[str, int]


def queue_infos(counts: list[tuple[str, str, int]],
                settings: list[tuple[str, int, int]]) -> list[QueueInfo]:
    """QueueInfo of every queue that has jobs or settings, by name, from (queue, state, n) rows
    and (name, paused, limit) rows: shared by both backends."""
    per_queue: dict[str, dict[str, int]] = {}
    for queue, state, n in counts:
        per_queue.setdefault(queue, dict.fromkeys(STATES, 0))[state] = int(n)
    found = {name: (bool(paused), int(limit)) for name, paused, limit in settings}
    return [QueueInfo(name, *found.get(name, (False, 0)),
                      per_queue.get(name) or dict.fromkeys(STATES, 0))
            for name in sorted(per_queue.keys() | found.keys())]


class Schedule(NamedTuple):
    """A cron schedule (`schedule add`): each run enqueues `job` once, with the id
    `NAME@<run time>` and the batch NAME. Times are epoch ms."""

    name: str
    cron: str
    zone: str
    job: NewJob  # the template: id, batch and run_at are set per run
    next_run: int | None
    last_run: int | None = None
    created_at: int = 0

    def run_job(self, run_at: int) -> NewJob:
        from .timeutil import format_ms

        return self.job._replace(id=f"{self.name}@{format_ms(run_at)}", batch=self.name,
                                 run_at=run_at)


class Beat(NamedTuple):
    """What a worker's heartbeat learns from the store."""

    stop_requested: bool
    cancel: tuple[str, ...] = ()  # ids of its running jobs whose cancel was requested


class Chunk(NamedTuple):
    """A piece of a running attempt's output: `pos` is its byte position in the stream
    (1 stdout, 2 stderr); `seq` orders the pieces of one attempt as they were stored."""

    stream: int
    pos: int
    data: bytes
    seq: int = 0


class OutputWrite(NamedTuple):
    """Streamed output for one group commit. chunks: (job id, worker id, run_no, Chunk), written
    only while the attempt is still that worker's; trims: (job id, run_no, stream, head, cut)
    deletes tail pieces that ended before `cut`; drops: (job id, run_no) of finished attempts
    whose pieces are no longer needed (the attempt row holds the output)."""

    chunks: list[tuple[str, str, int, Chunk]]
    trims: list[tuple[str, int, int, int, int]]
    drops: list[tuple[str, int]]
