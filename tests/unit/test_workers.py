"""Worker liveness: the rescuer's HeartbeatWatch never compares clocks across processes."""

import os
import subprocess

from queuectl.jobs import WorkerInfo
from queuectl.workers import HeartbeatWatch, is_alive

HERE, ELSEWHERE = "this-host", "other-host"


def worker(wid="w", *, host=ELSEWHERE, pid=None, beat=1_000):
    return WorkerInfo(wid, pid or os.getpid(), host, 1, 0, beat)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_worker_seen_for_the_first_time_is_not_dead_however_old_its_heartbeat_looks():
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    assert watch.dead([worker(beat=0)], mono=100.0) == []


def test_a_heartbeat_unchanged_for_a_lease_of_the_observers_clock_is_death():
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    w = worker()
    for tick in range(10):  # the rescuer looks every lease/10
        assert watch.dead([w], mono=100.0 + tick) == []
    assert watch.dead([w], mono=109.9) == []
    assert watch.dead([w], mono=110.0) == [w]


def test_an_observer_that_could_not_look_for_a_while_restarts_every_lease():
    """After a network cut longer than the lease, the first worker back sees the others'
    heartbeats unchanged: it was blind, not they silent, so no verdict until a full lease."""
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    w = worker()
    watch.dead([w], mono=100.0)
    assert watch.dead([w], mono=115.0) == []  # 15 s without a look (its store calls retried)
    assert watch.dead([w], mono=120.0) == []
    assert watch.dead([w], mono=124.9) == []
    assert watch.dead([w], mono=125.0) == [w]


def test_a_changing_heartbeat_is_life_even_after_a_wall_clock_step():
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    watch.dead([worker(beat=1_000)], mono=100.0)
    # the worker's clock stepped back an hour: values are compared for change, not age
    assert watch.dead([worker(beat=1_000 - 3_600_000)], mono=108.0) == []
    assert watch.dead([worker(beat=1_000 - 3_598_000)], mono=116.0) == []


def test_a_local_worker_whose_pid_is_gone_is_dead_at_once():
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    gone = worker(host=HERE, pid=dead_pid())
    assert watch.dead([gone], mono=100.0) == [gone]


def test_a_local_live_pid_with_a_frozen_heartbeat_still_dies_after_a_lease():
    """A recycled pid cannot hide a dead worker: its heartbeat stops changing."""
    watch = HeartbeatWatch(host=HERE, lease_s=10)
    w = worker(host=HERE)
    for tick in range(10):
        watch.dead([w], mono=float(tick))
    assert watch.dead([w], mono=10.0) == [w]


def test_is_alive_for_display_trusts_a_local_pid_and_a_remote_lease():
    assert is_alive(worker(host=HERE, beat=0), now=10**12, lease_s=10, host=HERE)
    assert not is_alive(worker(host=HERE, pid=dead_pid()), now=0, lease_s=10, host=HERE)
    assert is_alive(worker(beat=95_000), now=100_000, lease_s=10, host=HERE)
    assert not is_alive(worker(beat=80_000), now=100_000, lease_s=10, host=HERE)


def test_this_host_is_what_gethostname_returns():
    import socket

    from queuectl.workers import this_host

    assert this_host() == socket.gethostname()
