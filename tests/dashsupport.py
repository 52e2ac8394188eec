"""A real `queuectl dashboard` process for the tests that need one (server-sent events over a
socket, the generated token, the browser tests): started on `--port 0`, so the kernel picks a
free port and the first stdout line says which."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

from clisupport import QUEUECTL

LINE = re.compile(r"^queuectl dashboard on (?P<url>http://\S+?/)(?:\?token=(?P<token>\S+))?(?: |$)")


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
