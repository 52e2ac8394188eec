"""P1-peer: huey (the `bench` extra) with its SQLite storage and 50 worker threads.

`python -m benchmarks.huey_peer enqueue DB N CMD` prefills the queue (not timed: P1's store is
prefilled too); `python -m benchmarks.huey_peer consume DB N THREADS` runs a consumer until N
tasks have run and exits at once (no graceful shutdown, in huey's favour). Each task runs the
command through the shell with subprocess.run, capturing output like queuectl does.
"""

import os
import subprocess
import sys
import threading

from huey import SqliteHuey

huey = SqliteHuey(name="bench", filename=sys.argv[2], results=False)
_done = threading.Event()
_lock = threading.Lock()
_count = [0, 0]  # finished, failed
_target = int(sys.argv[3])


@huey.task()
def run_shell(command: str) -> None:
    cp = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL, capture_output=True)
    with _lock:
        _count[0] += 1
        _count[1] += cp.returncode != 0
        if _count[0] >= _target:
            _done.set()


def enqueue(command: str) -> None:
    for _ in range(_target):
        run_shell(command)


def consume(threads: int) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    consumer = huey.create_consumer(workers=threads, worker_type="thread", periodic=False,
                                    check_worker_health=False)
    consumer.start()
    _done.wait()
    sys.stdout.flush()
    os._exit(1 if _count[1] else 0)


if __name__ == "__main__":
    if sys.argv[1] == "enqueue":
        enqueue(sys.argv[4])
    else:
        consume(int(sys.argv[4]))
