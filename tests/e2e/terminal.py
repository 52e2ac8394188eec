"""A real pseudo-terminal for full-screen programs: run one in it, type keys, read the screen.

The program's output is fed to pyte (a VT100/xterm emulator) by a reader thread, so a test
reads the screen as a user sees it, and also keeps the raw bytes (to check colours, and that
the terminal is restored on exit)."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import termios
import threading
import time

import pyte


class Terminal:
    def __init__(self, argv: list[str], *, env: dict[str, str], cwd, size=(80, 24)) -> None:
        self.columns, self.lines = size
        self.screen = pyte.Screen(self.columns, self.lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.lock = threading.Lock()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.lines, self.columns, 0, 0))
        self.master = master
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        cwd=cwd, start_new_session=True, close_fds=True)
        os.close(slave)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the program closed the terminal
                return
            if not data:
                return
            with self.lock:
                self.raw += data
                self.stream.feed(data)

    def text(self) -> str:
        with self.lock:
            return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, *needles: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{needles!r} not on the screen after {timeout}s "
                                     f"(exit {self.process.poll()}):\n{text}")
            time.sleep(0.1)

    def press(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_exit(self, timeout: float = 15) -> int:
        code = self.process.wait(timeout)
        self.reader.join(5)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.reader.join(5)
        os.close(self.master)
