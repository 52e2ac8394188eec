"""Flow control under faults, with real processes (issue 10): a queue limit during a SIGKILL
storm, a paused queue across worker restarts, unique keys under concurrent enqueuers, and a
schedule that fires once however many workers race for it (or die while they tick)."""

import concurrent.futures
import random
import signal
import threading
import time

import pytest

from .conftest import counts, db_query, wait_until

LIMIT = 3


def sample_running(read, stop: threading.Event, peaks: list[int]) -> None:
    """Sample the limited queue's `processing` count many times a second until stopped."""
    while not stop.is_set():
        peaks.append(read())
        time.sleep(0.01)


def test_a_limit_holds_through_a_sigkill_storm(rq, figures):
    rq.ok("queue", "set", "dl", "--limit", str(LIMIT))
    rq.enqueue_many([{"command": "sleep 0.2", "queue": "dl", "max_retries": 10}
                     for _ in range(40)] + [{"command": "true"} for _ in range(40)])
    peaks: list[int] = []
    stop = threading.Event()
    read = lambda: db_query(rq.db, "SELECT count(*) FROM jobs WHERE queue = 'dl' "  # noqa: E731
                                   "AND state = 'processing'")[0][0]
    sampler = threading.Thread(target=sample_running, args=(read, stop, peaks))
    sampler.start()
    workers = [rq.worker("--concurrency", "4") for _ in range(3)]
    kills = 0
    try:
        deadline = time.monotonic() + 60
        while counts(rq.db)["completed"] < 80 and time.monotonic() < deadline:
            time.sleep(random.uniform(0.3, 0.8))
            if kills < 6:
                victim = workers.pop(random.randrange(len(workers)))
                victim.proc.send_signal(signal.SIGKILL)
                kills += 1
                workers.append(rq.worker("--concurrency", "4"))
    finally:
        stop.set()
        sampler.join()
    figures.record("limit under SIGKILL storm", samples=len(peaks), peak=max(peaks), kills=kills)
    assert counts(rq.db)["completed"] == 80
    assert max(peaks) <= LIMIT and len(peaks) > 100


def test_a_paused_queue_loses_nothing_across_worker_restarts(rq):
    rq.ok("queue", "pause", "held")
    held = rq.enqueue_many([{"command": "true", "queue": "held"} for _ in range(20)])
    rq.enqueue_many([{"command": "sleep 0.05"} for _ in range(10)])
    for _ in range(3):  # start, work, stop (SIGTERM or SIGKILL), again
        worker = rq.worker("--concurrency", "3")
        time.sleep(0.7)
        worker.proc.send_signal(random.choice([signal.SIGTERM, signal.SIGKILL]))
        worker.wait()
    states = dict(db_query(rq.db, "SELECT state, count(*) FROM jobs WHERE queue = 'held' "
                                  "GROUP BY state"))
    assert states == {"pending": 20}
    rq.ok("queue", "resume", "held")
    rq.ok("worker", "start", "--concurrency", "4", "--drain", timeout=120)
    rows = db_query(rq.db, "SELECT id, state, attempts FROM jobs WHERE queue = 'held'")
    assert sorted(r[0] for r in rows) == sorted(held)
    assert {(r[1], r[2]) for r in rows} == {("completed", 1)}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_unique_keys_hold_under_eight_concurrent_enqueuers(rq, backend, request):
    db = rq.db
    if backend == "postgres":
        db = request.getfixturevalue("pg").url
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: rq.run("enqueue", "--unique-key", "once", "true", db=db),
                             range(8)))
    assert [cp.returncode for cp in done] == [0] * 8, [cp.stderr for cp in done]
    printed = {cp.stdout.strip() for cp in done}
    assert len(printed) == 1
    listed = rq.json("list", "--json", db=db)
    assert [j["id"] for j in listed] == list(printed)
    assert sum("note: " in cp.stderr for cp in done) == 7


YEARLY = "0 0 1 1 *"  # never due by itself while a test runs: each run is made due by hand


def _due_now(pg, name: str) -> str:
    """Make a schedule due at once by moving its stored next run to a second ago (as if a run
    had been missed). Returns the id its run must get."""
    from queuectl.timeutil import format_ms

    at = int(time.time() * 1000) - 1000
    pg.query("UPDATE {s}.schedules SET next_run = $1 WHERE name = $2", at, name)
    return f"{name}@{format_ms(at)}"


def test_a_schedule_fires_once_with_four_workers_on_two_hosts(rq, pg):
    """Four worker processes (the issue's two "hosts" of two workers each: worker ids that
    share nothing but the PostgreSQL store) race for the same runs."""
    for round_ in range(3):
        rq.ok("schedule", "add", f"tick{round_}", "--cron", YEARLY, "true", db=pg.url)
    for _ in range(4):
        rq.worker("--concurrency", "2", db=pg.url)
    wait_until(lambda: len(rq.json("worker", "list", "--json", db=pg.url)) == 4, 20, 0.1,
               "4 workers")
    expected = []
    for round_ in range(3):
        expected.append(_due_now(pg, f"tick{round_}"))
        wait_until(lambda r=round_: len(pg.query("SELECT id FROM {s}.jobs")) >= r + 1, 10, 0.05,
                   "a run enqueued")
        time.sleep(1.5)  # every worker has ticked past it at least once
        assert sorted(r[0] for r in pg.query("SELECT id FROM {s}.jobs")) == sorted(expected)


def test_a_schedule_fires_once_when_a_worker_dies_mid_tick(rq, pg):
    rq.ok("schedule", "add", "tick", "--cron", YEARLY, "true", db=pg.url)
    doomed = rq.worker("--concurrency", "1", db=pg.url)
    survivor = rq.worker("--concurrency", "1", db=pg.url)
    wait_until(lambda: len(rq.json("worker", "list", "--json", db=pg.url)) == 2, 20, 0.1,
               "2 workers")
    expected = _due_now(pg, "tick")
    time.sleep(random.uniform(0.0, 0.3))  # somewhere in or around the doomed worker's tick
    doomed.proc.send_signal(signal.SIGKILL)
    wait_until(lambda: pg.query("SELECT id FROM {s}.jobs"), 10, 0.05, "the run enqueued")
    time.sleep(2.5)
    assert [r[0] for r in pg.query("SELECT id FROM {s}.jobs")] == [expected]
    assert survivor.alive()
