"""For the dashboard's tests: stores seeded through the store verbs (`Seed`), and a real
`queuectl dashboard` process (`Dashboard`) for what needs a socket (server-sent events, the
generated token, the browser tests): started on `--port 0`, so the kernel picks a free port
and the first stdout line says which."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from clisupport import QUEUECTL

from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition
from queuectl.store import open_store
from queuectl.timeutil import now_ms

LINE = re.compile(r"^queuectl dashboard on (?P<url>http://\S+?/)(?:\?token=(?P<token>\S+))?(?: |$)")


class Seed:
    """Jobs in every state, written through the store verbs with real timestamps."""

    def __init__(self, url: str) -> None:
        self.url = url

    def run(self, body: Callable) -> object:
        async def main():
            store = await open_store(self.url)
            try:
                return await body(store)
            finally:
                await store.close()

        # a thread of its own: Playwright's sync API keeps an event loop running in this one
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    def add(self, job_id: str, command: str = "true", **fields) -> None:
        fields.setdefault("max_retries", 3)
        self.run(lambda s: s.insert_jobs([NewJob(job_id, command, **fields)], now=now_ms()))

    def attempt(self, job_id: str, *, state: JobState, exit_code: int = 0, out: bytes = b"",
                err: bytes = b"") -> None:
        """Claim `job_id` (it must be the next due) and end its attempt in `state`."""

        async def body(store):
            now = now_ms()
            (job,) = await store.claim_jobs(worker_id="w-test", limit=1, now=now)
            assert job.id == job_id, f"claimed {job.id}, expected {job_id}"
            error = None if exit_code == 0 else f"exit code {exit_code}"
            result = RunResult(exit_code, error, now, now + 250, 0.25, out, err)
            run_at = now + 60_000 if state == JobState.FAILED else None
            await store.finish_jobs([Finish(job_id, "w-test", job.run_no,
                                            Transition(state, run_at), result)], now=now + 250)

        self.run(body)

    def state_of(self, job_id: str) -> str:
        return self.run(lambda s: s.get_job(job_id)).state.value

    def total(self) -> int:
        return sum(self.run(lambda s: s.count_by_state()).values())

    def standard(self) -> None:
        """ok (completed, with output), bad (dead), later (pending, due in an hour)."""
        self.add("ok", "echo '<script>alert(1)</script>'", priority=3)
        self.attempt("ok", state=JobState.COMPLETED,
                     out=b"<script>window.__xss = 1</script>\nhello\n", err=b"warn\n")
        self.add("bad", "exit 3", max_retries=0, priority=2)
        self.attempt("bad", state=JobState.DEAD, exit_code=3, out=b"before the end\n")
        self.add("later", "sleep 1", run_at=now_ms() + 3_600_000)


class Dashboard:
    def __init__(self, db: str, *args: str, log: Path, timeout: float = 20.0) -> None:
        env = dict(os.environ, QUEUECTL_DB=db)
        env.pop("QUEUECTL_DASHBOARD_TOKEN", None)
        self.log = log
        with log.open("wb") as stderr:
            self.proc = subprocess.Popen([QUEUECTL, "dashboard", "--port", "0", *args], env=env,
                                         stdout=subprocess.PIPE, stderr=stderr, text=True,
                                         start_new_session=True)
        self.first_line = self._first_line(timeout)
        match = LINE.match(self.first_line)
        assert match, f"unexpected first line {self.first_line!r}; stderr: {self.stderr()}"
        self.url, self.token = match["url"].rstrip("/"), match["token"]

    def _first_line(self, timeout: float) -> str:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not lines or not lines[0]:
            self.stop()
            raise AssertionError(f"the dashboard did not start; stderr: {self.stderr()}")
        return lines[0].rstrip("\n")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int:
        """SIGINT, as Ctrl-C would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode
