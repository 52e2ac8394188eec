"""P12: what a `queuectl tui` left open costs. The real executable runs in a pseudo-terminal
(80x24) on a store of 10^6 jobs (P7's shape: mostly completed, a pending backlog); after a
warm-up, its CPU time (utime + stime from /proc) is read over a window, first on the overview
tab (counts and workers every second), then on the jobs tab (plus a page of 100 jobs every
2 s). Goal: <= 2 % of one core.

    python -m benchmarks --only P12          (or: python -m benchmarks.tui_cpu [--quick])
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from .common import QUEUECTL, Row, cli_env, prefill, say, scratch

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class Tui:
    """`queuectl tui` in a pty whose output is read and thrown away, as a terminal would."""

    def __init__(self, db: Path, tmp: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        env = cli_env(db, tmp) | {"TERM": "xterm-256color"}
        env.pop("NO_COLOR")
        self.master, self.seen = master, 0
        self.process = subprocess.Popen([QUEUECTL, "tui"], stdin=slave, stdout=slave,
                                        stderr=slave, env=env, cwd=tmp, start_new_session=True)
        os.close(slave)
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.seen += len(data)

    def cpu_percent(self, seconds: float) -> float:
        before, t0 = cpu_seconds(self.process.pid), time.monotonic()
        time.sleep(seconds)
        used = cpu_seconds(self.process.pid) - before
        return 100 * used / (time.monotonic() - t0)

    def press(self, key: str) -> None:
        os.write(self.master, key.encode())

    def quit(self) -> None:
        self.press("q")
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


def p12(quick: bool) -> Row:
    total, window, warm = (100_000, 10.0, 5.0) if quick else (1_000_000, 30.0, 8.0)
    with scratch("p12") as tmp:
        db = tmp / "q.db"
        pending = max(5_000, total // 10)
        prefill(db, pending, completed=total - pending)
        say(f"P12: store of {total:,} jobs; measuring an idle TUI for 2 x {window:g}s ...")
        tui = Tui(db, tmp)
        try:
            time.sleep(warm)  # start-up and the first reads are not what "left open" costs
            overview = tui.cpu_percent(window)
            tui.press("2")
            time.sleep(2)
            jobs_tab = tui.cpu_percent(window)
            start_up_cpu = cpu_seconds(tui.process.pid)
        finally:
            tui.quit()
    return Row("P12-tui", f"store of {total:,} jobs: queuectl tui left open (overview tab)",
               "% of a core", overview, None, 2, goal_on="queuectl", goal_op="<=",
               reference_label="-", detail={"jobs_tab_percent": jobs_tab, "window_s": window,
                                            "cpu_s_total": start_up_cpu})


BENCHMARKS = {"P12": p12}

if __name__ == "__main__":
    row = p12("--quick" in sys.argv)
    print(f"overview tab: {row.queuectl:.2f} % of a core; jobs tab: "
          f"{row.detail['jobs_tab_percent']:.2f} %")
