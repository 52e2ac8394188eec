"""One running job in the engine (a slot), why it may be stopped, and its live output.

A slot can be stopped for two reasons that end the attempt differently (procrastinate's abort
reason): a user's `queuectl cancel` stops the command and the job goes `dead` (`cancelled`); a
hard stop of the worker kills it and puts the job back, the attempt not counted. The first
reason wins: a cancelled job that a hard stop overtakes still ends `dead`.

Live output: the runner feeds the slot's two Captures; `OutputStreamer.collect` hands what
arrived since the last group commit to the store, so `logs --follow` can read it while the
job runs. Bounded like the final output (the Capture's head and tail; the store trims the
tail pieces to match), and a job that prints nothing, or ends within the first interval,
writes no piece at all.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from enum import StrEnum

from .jobs import Chunk, Job, OutputWrite, RunResult
from .runner import CANCELLED, Capture
from .timeutil import now_ms

FOLLOW_GRACE_S = 10.0  # pieces of a finished attempt stay this long for followers to catch up
STREAMS = (1, 2)  # stdout, stderr: the numbers the store and `logs --follow` use


class StopReason(StrEnum):
    CANCELLED = "cancelled"  # `queuectl cancel`: the attempt ends, the job goes dead
    SHUTDOWN = "shutdown"  # a hard stop: the attempt is undone, the job requeued


class Slot:
    __slots__ = ("job", "task", "abort", "reason", "captures", "started_at", "started_mono",
                 "streamed", "trimmed")

    def __init__(self, job: Job, output_limit: int, mono: float) -> None:
        self.job = job
        self.task: asyncio.Task | None = None
        self.abort = asyncio.get_running_loop().create_future()  # resolved by a cancel
        self.reason: StopReason | None = None
        self.captures = (Capture(output_limit), Capture(output_limit))
        self.started_at, self.started_mono = now_ms(), mono
        self.streamed = False  # has any piece of this attempt reached the store?
        self.trimmed = [0, 0]  # per stream: the cut of the last trim sent

    def stop(self, reason: StopReason) -> None:
        """Cancel: the runner stops the group (TERM, grace, KILL) and returns the output.
        Shutdown: the task is cancelled (the runner kills the group on its way out)."""
        if self.reason is None:
            self.reason = reason
        if reason is StopReason.CANCELLED:
            if not self.abort.done():
                self.abort.set_result(reason)
        elif self.task is not None:
            self.task.cancel()

    def cancelled_result(self) -> RunResult:
        """The attempt of a cancelled job whose runner was interrupted by a hard stop."""
        out, err = self.captures
        now = now_ms()
        return RunResult(None, CANCELLED, self.started_at, now, (now - self.started_at) / 1000,
                         out.value(), err.value())


class OutputStreamer:
    """Collects streamed output for the engine's group commits. `interval` 0 turns it off.

    Off the hot path: one timer per interval while jobs run (not one per job or per commit)
    marks running jobs' output due; commits in between only look at the jobs they finish."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._drops: deque[tuple[float, str, int]] = deque()  # (due, job id, run_no)
        self._timer: asyncio.TimerHandle | None = None
        self._due = False

    def arm(self, wake: Callable[[], None], *, running: bool) -> None:
        """Make sure a commit comes within an interval while jobs run or pieces await a drop."""
        if self.interval and self._timer is None and (running or self._drops):
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._fire, wake)

    def _fire(self, wake: Callable[[], None]) -> None:
        self._timer, self._due = None, True
        wake()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def collect(self, running: Iterable[Slot], finished: Iterable[Slot], *, worker_id: str,
                mono: float, closing: bool = False) -> OutputWrite | None:
        if not self.interval:
            return None
        write = OutputWrite([], [], [])
        due, self._due = self._due, False
        for slot in running if due else ():  # a job younger than the interval may end unstreamed
            if mono - slot.started_mono >= self.interval:
                self._take(slot, write, worker_id)
        for slot in finished:  # their last pieces go with their finish, in one transaction
            if slot.streamed:
                self._take(slot, write, worker_id, final=True)
                self._drops.append((mono + FOLLOW_GRACE_S, slot.job.id, slot.job.run_no))
        while self._drops and (closing or self._drops[0][0] <= mono):
            _, job_id, run_no = self._drops.popleft()
            write.drops.append((job_id, run_no))
        return write if write.chunks or write.drops else None

    @staticmethod
    def _take(slot: Slot, write: OutputWrite, worker_id: str, final: bool = False) -> None:
        job = slot.job
        for stream, capture in zip(STREAMS, slot.captures, strict=True):
            pieces = capture.unsent()
            if final and capture.notes:  # what queuectl remarked, as the final output shows it
                pieces.append((capture.total, "".join(
                    f"\n[queuectl: {text}]\n" for text in capture.notes).encode()))
            for pos, data in pieces:
                write.chunks.append((job.id, worker_id, job.run_no, Chunk(stream, pos, data)))
                slot.streamed = True
            cut = capture.total - capture.tail_limit
            if pieces and cut > max(capture.head_limit, slot.trimmed[stream - 1]):
                write.trims.append((job.id, job.run_no, stream, capture.head_limit, cut))
                slot.trimmed[stream - 1] = cut
