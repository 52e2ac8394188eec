"""Store contract, workers and wake-ups: register, heartbeat, list, stop, deregister, subscribe;
and claims from several OS processes at once."""

import asyncio
import json
import subprocess
import sys

from queuectl.jobs import WorkerInfo

from .helpers import NOW, job


def worker(worker_id, *, started=NOW, running=0):
    return WorkerInfo(worker_id, 4321, "host-a", 3, started, started, running)


async def test_register_and_list(store):
    await store.register_worker(worker("w2", started=NOW + 5))
    await store.register_worker(worker("w1", started=NOW))
    assert await store.list_workers() == [worker("w1", started=NOW), worker("w2", started=NOW + 5)]


async def test_register_again_replaces_the_row(store):
    await store.register_worker(worker("w1"))
    await store.register_worker(worker("w1", started=NOW + 9))
    assert [w.started_at for w in await store.list_workers()] == [NOW + 9]


async def test_heartbeat_moves_the_row(store):
    await store.register_worker(worker("w1"))
    assert (await store.heartbeat(worker_id="w1", running=2, now=NOW + 700)).stop_requested is False
    (w,) = await store.list_workers()
    assert (w.heartbeat_at, w.running, w.stop_requested) == (NOW + 700, 2, False)


async def test_heartbeat_of_a_removed_worker_is_none(store):
    await store.register_worker(worker("w1"))
    await store.deregister_worker("w1")
    assert await store.heartbeat(worker_id="w1", running=0, now=NOW) is None
    assert await store.list_workers() == []


async def test_heartbeat_after_being_presumed_dead_is_none(store):
    await store.register_worker(worker("w1"))
    await store.rescue_lost_jobs(dead_workers=[("w1", NOW)], now=NOW + 1)
    assert await store.heartbeat(worker_id="w1", running=0, now=NOW + 2) is None


async def test_request_stop_flags_every_worker(store):
    await store.register_worker(worker("w1"))
    await store.register_worker(worker("w2"))
    assert sorted(await store.request_stop()) == ["w1", "w2"]
    assert [w.stop_requested for w in await store.list_workers()] == [True, True]
    assert (await store.heartbeat(worker_id="w1", running=0, now=NOW + 1)).stop_requested is True


async def test_request_stop_with_no_workers(store):
    assert await store.request_stop() == []


async def test_deregister_unknown_worker_is_harmless(store):
    await store.deregister_worker("ghost")


async def subscribed(store, worker_id):
    messages, arrived = [], asyncio.Event()

    def on_wakeup(message):
        messages.append(message)
        arrived.set()

    await store.register_worker(worker(worker_id))
    subscription = await store.subscribe(worker_id, on_wakeup)
    return subscription, messages, arrived


async def test_insert_wakes_a_subscribed_worker(store, other):
    subscription, messages, arrived = await subscribed(store, "w1")
    try:
        await other.insert_jobs([job("a")], now=NOW)
        await asyncio.wait_for(arrived.wait(), 5)
        assert b"jobs" in messages
    finally:
        await subscription.close()


async def test_a_job_handed_back_uncharged_wakes_a_subscribed_worker(store, other):
    """A worker that could not start a job (or was hard-stopped) hands it back: the others
    are woken to run it, as for an insert."""
    await other.insert_jobs([job("a")], now=NOW)
    (claimed,) = await other.claim_jobs(worker_id="w2", limit=1, now=NOW)
    subscription, messages, arrived = await subscribed(store, "w1")
    try:
        assert await other.requeue_interrupted(
            worker_id="w2", jobs=[("a", claimed.run_no)], now=NOW) == 1
        await asyncio.wait_for(arrived.wait(), 5)
        assert b"jobs" in messages
    finally:
        await subscription.close()


async def test_stop_request_wakes_a_subscribed_worker(store, other):
    subscription, messages, arrived = await subscribed(store, "w1")
    try:
        await other.request_stop()
        await asyncio.wait_for(arrived.wait(), 5)
        assert b"stop" in messages
    finally:
        await subscription.close()


CLAIMER = """
import asyncio, json, os, sys, time
from queuectl.store import open_store

async def main(url, worker, go):
    store = await open_store(url)
    got = []
    try:
        print("ready", flush=True)
        while not os.path.exists(go):
            await asyncio.sleep(0.005)
        limit = 1
        while batch := await store.claim_jobs(worker_id=worker, limit=limit, now=NOW):
            got += [j.id for j in batch]
            limit = limit % 4 + 1
    finally:
        await store.close()
    print(json.dumps(got), flush=True)

asyncio.run(main(*sys.argv[1:]))
""".replace("NOW", str(NOW))


async def test_processes_claiming_at_once_never_share_a_job(store, tmp_path):
    names = [f"j{i:03}" for i in range(500)]
    await store.insert_jobs([job(n) for n in names], now=NOW)
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIMER, store.url, f"p{i}", str(go)],
                         stdout=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    try:
        for proc in procs:
            assert await asyncio.to_thread(proc.stdout.readline) == "ready\n"
        go.touch()
        outputs = [await asyncio.to_thread(proc.communicate, timeout=60) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    claimed = [json.loads(out) for out, _ in outputs]
    assert all(proc.returncode == 0 for proc in procs)
    everything = [name for got in claimed for name in got]
    assert len(everything) == len(set(everything)) == 500
    assert sorted(everything) == names
    assert sum(1 for got in claimed if got) >= 2  # they really did run side by side
