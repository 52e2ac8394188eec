"""Worker liveness, shared by the rescuer (engine) and `worker list` / `status` (cli)."""

import os

from .jobs import WorkerInfo


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def is_alive(worker: WorkerInfo, *, now: int, lease_s: float, host: str) -> bool:
    """Alive = heartbeat within the lease and, on this host, its pid still exists.

    The pid check only ever speeds up a verdict of death (a recycled pid makes a dead worker
    look alive until its lease runs out, never the reverse)."""
    if worker.heartbeat_at < now - lease_s * 1000:
        return False
    return worker.host != host or pid_alive(worker.pid)
