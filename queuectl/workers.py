"""Worker liveness, shared by the rescuer (engine) and `worker list` / `status` (cli)."""

import os

from .jobs import WorkerInfo


def this_host() -> str:
    """The host name workers register with: what gethostname(2) returns, without importing
    socket (a one-shot `status` pays every import)."""
    return os.uname().nodename


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def is_alive(worker: WorkerInfo, *, now: int, lease_s: float, host: str) -> bool:
    """For display (`worker list`, `status`): on this host a live pid decides, elsewhere a
    heartbeat within the lease. The rescuer uses HeartbeatWatch, which needs no shared clock."""
    if worker.host == host:
        return pid_alive(worker.pid)
    return worker.heartbeat_at >= now - lease_s * 1000


class HeartbeatWatch:
    """The rescuer's verdict of death, immune to wall-clock steps.

    A worker is dead when it is on this host and its pid is gone (immediate), or when its
    heartbeat value has not changed for `lease_s` seconds of *this* process's monotonic clock.
    Heartbeat values are only compared for equality, never with the observer's clock, so a
    clock step on either side, or skew between hosts, cannot make a live worker look dead.
    A recycled pid cannot hide a dead worker either: its heartbeat stops changing."""

    def __init__(self, *, host: str, lease_s: float) -> None:
        self.host, self.lease_s = host, lease_s
        self._seen: dict[str, tuple[int, float]] = {}  # id -> (heartbeat value, when it changed)
        self._looked: float | None = None  # when this observer last read the workers

    def dead(self, workers: list[WorkerInfo], *, mono: float) -> list[WorkerInfo]:
        if self._looked is not None and mono - self._looked > self.lease_s / 2:
            # This observer was blind meanwhile (its own link to the store was down, say): it
            # saw no silence, so every lease restarts now. Otherwise, after a network cut
            # longer than the lease, the first worker back would declare all the others dead.
            self._seen = {k: (beat, mono) for k, (beat, _) in self._seen.items()}
        self._looked = mono
        verdicts = [w for w in workers if self._is_dead(w, mono)]
        self._seen = {w.id: self._seen[w.id] for w in workers}  # forget deregistered workers
        return verdicts

    def _is_dead(self, worker: WorkerInfo, mono: float) -> bool:
        previous = self._seen.get(worker.id)
        if previous is None or previous[0] != worker.heartbeat_at:
            self._seen[worker.id] = (worker.heartbeat_at, mono)
            previous = self._seen[worker.id]
        if worker.host == self.host and not pid_alive(worker.pid):
            return True
        return mono - previous[1] >= self.lease_s
