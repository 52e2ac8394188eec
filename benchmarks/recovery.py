"""SIGKILL a worker mid-job and time until the job runs again, at default settings.

    .venv/bin/python -m benchmarks.recovery [ROUNDS]

Two cases on one host: another worker is already running (its rescuer ticks every
worker-lease / 10 = 1 s, so the kill lands at a random phase of that tick), and a worker
started right after the kill (its start-up rescue sees the pid gone). "Running again" is the
second execution's own clock, written by the job itself. Not a row of `make bench`: the
contract's bound (15 s) is checked by tests/e2e; this gives the figure.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from .common import QUEUECTL, scratch


def _start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([QUEUECTL, "worker", "start"], env=env, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _wait_lines(ledger: Path, n: int) -> list[str]:
    while not ledger.exists() or len(ledger.read_text().split()) < n:
        time.sleep(0.005)
    return ledger.read_text().split()


def one_round(tmp: Path, *, peer_running: bool) -> float:
    """Seconds from the SIGKILL to the job's second start."""
    env = dict(os.environ, QUEUECTL_DB=str(tmp / "q.db"))
    ledger = tmp / "ledger"
    job = f'{{"id":"victim","command":"date +%s.%N >> {ledger}; sleep 3"}}'
    subprocess.run([QUEUECTL, "enqueue", job], env=env, check=True, capture_output=True)
    victim = _start(env)
    _wait_lines(ledger, 1)
    peer = _start(env) if peer_running else None
    if peer is not None:
        time.sleep(1 + random.random())  # idle, and at a random phase of its rescue tick
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    peer = peer or _start(env)
    again = float(_wait_lines(ledger, 2)[1])
    for _ in range(2):  # a hard stop: the rerun's process group is killed with it
        peer.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    peer.wait()
    return again - killed_at


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    for peer_running in (True, False):
        figures = []
        for i in range(rounds):
            with scratch(f"recovery{i}") as tmp:
                figures.append(one_round(tmp, peer_running=peer_running))
        label = "another worker running" if peer_running else "worker started after the kill"
        print(f"{label}: " + " ".join(f"{x:.2f}" for x in figures) + f"  (max {max(figures):.2f} s)")


if __name__ == "__main__":
    main()
