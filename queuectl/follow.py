"""Following a job's output while it runs: the reading side of streamed output, shared by
`logs --follow`, the dashboard and the terminal UI (they never import cli/).

Workers write a running attempt's new output to the store every `output-interval` (0.25 s)
as pieces (slots.OutputStreamer); a follower polls for pieces stored after the last one it
read, from any machine that reaches the store. Order of every poll: the job first, then the
pieces. The last pieces of an attempt are committed with its finish, so when the job shows
the attempt ended, the pieces read right after include the end: nothing is lost to the race.

When the attempt has ended, the rest comes from its attempt row, the output `queuectl logs`
shows: pieces of an attempt are dropped some seconds after it ends (at once when its worker
exits), and a job that ran under one interval never wrote any. When what a follower printed
is a prefix of that output (no gap seen, and the stored bytes where it stopped are the ones it
printed last), the rest is exact; otherwise it points to `queuectl logs`.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from .errors import WrongStateError
from .jobs import Chunk, Job, JobState

POLL_S = 0.2  # with the workers' 0.25 s interval: each piece is shown well within 1 s
STDOUT, STDERR = 1, 2
PAGE = 1000
TAIL_KEPT = 64  # bytes of each stream's last printed piece, to recognise the stored tail


class Follower:
    """`async for stream, data in Follower(store, job_id).pieces()`: stream 1 is stdout, 2
    stderr. Ends when the followed attempt ends; raises JobNotFoundError / WrongStateError."""

    def __init__(self, store: Any, job_id: str, *, poll: float = POLL_S,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.store, self.job_id, self.poll, self._sleep = store, job_id, poll, sleep
        self.attempt: int | None = None  # the attempt followed, once known

    async def pieces(self) -> AsyncIterator[tuple[int, bytes]]:
        job = await self.store.get_job(self.job_id)
        if job.state in (JobState.COMPLETED, JobState.DEAD):  # nothing runs: its last output
            output = await self.store.output(self.job_id, None)
            self.attempt = output.attempt
            for stream, data in ((STDOUT, output.stdout), (STDERR, output.stderr)):
                if data:
                    yield stream, data
            return
        target = job.run_no if job.state == JobState.PROCESSING else job.run_no + 1
        while True:
            job = await self._wait_for_attempt(job, target)
            self.attempt = target
            reader = _AttemptReader(self.store, self.job_id, target)
            async for piece in reader.follow(self.poll, self._sleep):
                yield piece
            if not reader.undone:
                return
            job = await self.store.get_job(self.job_id)  # a hard stop undid it: the next one

    async def _wait_for_attempt(self, job: Job, target: int) -> Job:
        while job.run_no < target:
            if job.state in (JobState.COMPLETED, JobState.DEAD):
                raise WrongStateError(f"job {self.job_id!r} ended {job.state} without "
                                      f"another attempt ({job.last_error or 'no error'})")
            await self._sleep(self.poll)
            job = await self.store.get_job(self.job_id)
        return job


class _AttemptReader:
    def __init__(self, store: Any, job_id: str, attempt: int) -> None:
        self.store, self.job_id, self.attempt = store, job_id, attempt
        self.printed = {STDOUT: 0, STDERR: 0}  # stream positions shown so far
        self.gap = {STDOUT: False, STDERR: False}  # shown a truncation marker?
        self.last = {STDOUT: b"", STDERR: b""}  # the end of what was shown
        self.after = 0  # the last piece read (Chunk.seq)
        self.undone = False  # a hard stop requeued the job: this attempt never counted

    async def follow(self, poll: float, sleep) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            job = await self.store.get_job(self.job_id)  # first the job, then the pieces
            async for piece in self._new_pieces():
                yield piece
            if job.state != JobState.PROCESSING or job.run_no != self.attempt:
                break
            await sleep(poll)
        self.undone = job.run_no < self.attempt
        if not self.undone:
            async for piece in self._rest_from_attempt_row():
                yield piece

    async def _new_pieces(self) -> AsyncIterator[tuple[int, bytes]]:
        while True:
            chunks = await self.store.output_chunks(self.job_id, self.attempt, after=self.after,
                                                    limit=PAGE)
            for chunk in chunks:
                self.after = chunk.seq
                for piece in self._show(chunk):
                    yield piece
            if len(chunks) < PAGE:
                return

    def _show(self, chunk: Chunk) -> list[tuple[int, bytes]]:
        shown, pieces = self.printed[chunk.stream], []
        if chunk.pos > shown:  # what fell between the kept head and tail, as `logs` marks it
            marker = f"\n[queuectl: {chunk.pos - shown} bytes truncated]\n"
            pieces.append((chunk.stream, marker.encode()))
            self.gap[chunk.stream] = True
        data = chunk.data[max(0, shown - chunk.pos):]
        if data:
            pieces.append((chunk.stream, data))
            self.last[chunk.stream] = (self.last[chunk.stream] + data)[-TAIL_KEPT:]
        self.printed[chunk.stream] = max(shown, chunk.pos + len(chunk.data))
        return pieces

    async def _rest_from_attempt_row(self) -> AsyncIterator[tuple[int, bytes]]:
        """After the end: what the pieces did not show, from the stored output."""
        output = await self.store.output(self.job_id, self.attempt)
        for stream, stored in ((STDOUT, output.stdout), (STDERR, output.stderr)):
            shown, last = self.printed[stream], self.last[stream]
            if not self.gap[stream] and stored[shown - len(last):shown] == last:
                if len(stored) > shown:  # what was shown is a prefix of the stored output
                    yield stream, stored[shown:]
            elif not stored.endswith(last):  # its last pieces were dropped before we read them
                yield STDERR, (f"\n[queuectl: the end of this attempt's output is in "
                               f"`queuectl logs {self.job_id} --attempt {self.attempt}`]\n"
                               ).encode()
