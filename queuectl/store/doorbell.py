"""A local doorbell: wake idle workers on this host the moment work arrives, without polling.

Each worker binds a datagram socket in Linux's abstract namespace (no file to clean up: it
vanishes with the process) named after the store and the worker id. Enqueue, `dlq retry` and
`worker stop` send one datagram to each registered worker after their commit. Anyone on the
host can send to an abstract socket, so a datagram only wakes a worker; a worker re-reads the
store before acting on it. Elsewhere than Linux the doorbell is silent and workers poll.
"""

import contextlib
import hashlib
import socket
import sys

ENABLED = sys.platform.startswith("linux")
JOBS = b"jobs"
STOP = b"stop"


def address(store_key: str, worker_id: str) -> bytes:
    digest = hashlib.sha1(store_key.encode()).hexdigest()[:16]
    return b"\0queuectl/" + digest.encode() + b"/" + worker_id.encode()[:64]


def ring(store_key: str, worker_ids: list[str], message: bytes = JOBS) -> None:
    if not ENABLED or not worker_ids:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for worker_id in worker_ids:
            with contextlib.suppress(OSError):  # worker gone or its buffer full: it will poll
                sock.sendto(message, address(store_key, worker_id))


def bind(store_key: str, worker_id: str) -> socket.socket | None:
    if not ENABLED:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address(store_key, worker_id))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock
