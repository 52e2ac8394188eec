"""A local doorbell: wake idle workers on this host the moment work arrives, without polling.

Each worker binds a datagram socket in Linux's abstract namespace (no file to clean up: it
vanishes with the process) named after the store and the worker id. Enqueue, `dlq retry` and
`worker stop` send one datagram to each registered worker after their commit. Anyone on the
host can send to an abstract socket, so a datagram only wakes a worker; a worker re-reads the
store before acting on it. Elsewhere than Linux the doorbell is silent and workers poll.
"""

import contextlib
import hashlib
import os
import socket
import sys

ENABLED = sys.platform.startswith("linux")
JOBS = b"jobs"
STOP = b"stop"
CANCEL = b"cancel"  # a job this worker runs was cancelled: heartbeat now to learn which


def address(store_key: str, worker_id: str) -> bytes:
    return _store_prefix(store_key) + worker_id.encode()[:64]


def _store_prefix(store_key: str) -> bytes:
    """The store is named by its resolved file, so a symlink or another spelling of the path
    (`sqlite:////x.db`, `a/../x.db`) rings the same bell instead of leaving workers to poll."""
    real = os.path.realpath(store_key)
    digest = hashlib.sha1(real.encode(errors="surrogateescape")).hexdigest()[:16]
    return b"\0queuectl/" + digest.encode() + b"/"


def ring(store_key: str, worker_ids: list[str], message: bytes = JOBS) -> None:
    if not ENABLED or not worker_ids:
        return
    prefix = _store_prefix(store_key)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        for worker_id in worker_ids:
            with contextlib.suppress(OSError):  # worker gone or its buffer full: it will poll
                sock.sendto(message, prefix + worker_id.encode()[:64])


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
