"""Attack 2: contention. Enqueuers (single and --file bulk), workers and readers all hammer
one SQLite file at once. No command may fail, nobody may see "database is locked", and every
acknowledged job must be accounted for and completed exactly once in the store."""

import json
import threading
import time

import pytest

from .conftest import counts, wait_until


def hammer(rq, figures, *, name, db, enqueuers, rounds, bulk, workers, readers):
    failures, acknowledged, latencies = [], [], []
    lock = threading.Lock()

    def record(cp, took):
        with lock:
            latencies.append(took)
            if cp.returncode != 0 or "locked" in cp.stderr.lower() or "Traceback" in cp.stderr:
                failures.append((cp.args[1:], cp.returncode, cp.stderr[-500:]))

    def enqueuer(n):
        for r in range(rounds):
            t0 = time.monotonic()
            if n % 2:  # bulk
                docs = [{"id": f"e{n}-{r}-{i}", "command": "true"} for i in range(bulk)]
                cp = rq.run("enqueue", "--file", "-", db=db,
                            input="".join(json.dumps(d) + "\n" for d in docs))
            else:
                cp = rq.run("enqueue", "--id", f"e{n}-{r}", "true", db=db)
            record(cp, time.monotonic() - t0)
            if cp.returncode == 0:
                with lock:
                    acknowledged.extend(cp.stdout.split())

    stop_reading = threading.Event()

    def reader(n):
        while not stop_reading.is_set():
            t0 = time.monotonic()
            record(rq.run(*(["status", "--json"] if n % 2 else ["list", "--limit", "50"]), db=db),
                   time.monotonic() - t0)

    pool = [rq.worker("-c", 4, db=db) for _ in range(workers)]
    threads = [threading.Thread(target=enqueuer, args=(n,)) for n in range(enqueuers)]
    reading = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    t0 = time.monotonic()
    for t in threads + reading:
        t.start()
    for t in threads:
        t.join(240)
    stop_reading.set()
    for t in reading:
        t.join(60)
    wait_until(lambda: counts(db)["completed"] >= len(acknowledged), 60, 0.2, "all jobs completed")
    took = time.monotonic() - t0
    rq.ok("worker", "stop", db=db)
    logs = "".join(w.log() for w in pool)
    codes = [w.wait(30) for w in pool]
    assert failures == [], failures[:5]
    assert codes == [0] * workers, logs[-3000:]
    assert "locked" not in logs.lower() and "Traceback" not in logs
    expected = {f"e{n}-{r}" + ("" if n % 2 == 0 else f"-{i}")
                for n in range(enqueuers) for r in range(rounds)
                for i in (range(bulk) if n % 2 else [None])}
    assert set(acknowledged) == expected
    assert counts(db) == {"pending": 0, "processing": 0, "completed": len(expected), "failed": 0,
                          "dead": 0}
    latencies.sort()
    figures.record(name, enqueuers=enqueuers, bulk_size=bulk, workers=f"{workers}x4",
                   readers=readers, commands=len(latencies), jobs=len(expected),
                   failed_commands=0, locked_errors=0, seconds=round(took, 1),
                   p50_command_s=round(latencies[len(latencies) // 2], 2),
                   max_command_s=round(latencies[-1], 2))


@pytest.mark.timeout(120)
def test_contention_fast(rq, figures):
    hammer(rq, figures, name="contention-fast", db=rq.db, enqueuers=8, rounds=4, bulk=50,
           workers=4, readers=2)


@pytest.mark.timeout(120)
def test_contention_on_a_store_that_does_not_exist_yet(rq, figures, tmp_path):
    """Everyone's first use at once: folder creation, migration and WAL switch race."""
    db = tmp_path / "fresh" / "sub" / "q.db"
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(
        rq.run("enqueue", "--id", f"first-{n}", "true", db=db))) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [(cp.returncode, cp.stderr) for cp in results if cp.returncode != 0]
    assert bad == [], bad
    assert counts(db)["pending"] == 8


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_contention_soak(rq, figures):
    hammer(rq, figures, name="contention-soak", db=rq.db, enqueuers=8, rounds=25, bulk=200,
           workers=4, readers=4)


def test_first_use_races_on_creating_the_store_folder(tmp_path):
    """Regression: eight processes' first use of a store in a missing folder: the losers of
    the mkdir race failed with "cannot create ...: File exists"."""
    import threading

    from queuectl.store.sqlite_schema import prepare_file

    for round_no in range(30):
        target = tmp_path / f"r{round_no}" / "a" / "q.db"
        barrier, errors = threading.Barrier(8), []

        def first_use(target=target, barrier=barrier, errors=errors):
            barrier.wait()
            try:
                prepare_file(target)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=first_use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [], errors
