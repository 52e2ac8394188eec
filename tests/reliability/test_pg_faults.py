"""Attack 6: PostgreSQL connections die under running workers (issue 14).

- backend storm: pg_terminate_backend on every connection of the test's queuectl processes
  (pool, LISTEN, one-shot commands) every 0.25 s while workers run jobs;
- a cut link: a TCP proxy between the workers and the server drops every connection and
  refuses new ones for a while, then heals;
- a one-shot `list --json` whose backend is killed while it reads.

Checked afterwards, from the store and from a ledger each job appends to: no worker crashed
(exit 0, no traceback), every job completed, ran exactly once and has exactly one attempt
recorded; stderr says one line when an outage begins and one when it ends.
"""

import collections
import json
import threading
import time

import pytest

from .conftest import wait_until
from .pgfaults import every

PROBLEM, RECONNECTED = "PostgreSQL connection problem", "reconnected to PostgreSQL"


def enqueue_ledgered(rq, url, jobs, sleep):
    ledger = rq.tmp / "ledger"
    docs = [{"id": f"p{i:05d}", "command": f"echo $QUEUECTL_JOB_ID >> {ledger}; sleep {sleep}",
             "max_retries": 0} for i in range(jobs)]  # a failure would go dead: visible
    assert len(rq.enqueue_many(docs, db=url)) == jobs
    return ledger, {d["id"] for d in docs}


def check_exactly_once(pg, ledger, ids, workers):
    logs = [w.log() for w in workers]
    for log in logs:
        assert "Traceback" not in log and "Task exception" not in log, log[-3000:]
    assert pg.counts() == {"pending": 0, "processing": 0, "completed": len(ids), "failed": 0,
                           "dead": 0}
    runs = collections.Counter(ledger.read_text().split())
    assert set(runs) == ids and set(runs.values()) == {1}, runs.most_common(3)
    recorded = pg.query("SELECT job_id, count(*), bool_and(ok) FROM {s}.attempts GROUP BY 1")
    assert len(recorded) == len(ids)
    assert {(n, ok) for _, n, ok in recorded} == {(1, True)}, [r for r in recorded if r[1] != 1]
    return sum(log.count(PROBLEM) for log in logs), sum(log.count(RECONNECTED) for log in logs)


def backend_storm(rq, pg, figures, *, name, jobs, workers, slots, sleep, interval, duration):
    ledger, ids = enqueue_ledgered(rq, pg.url, jobs, sleep)
    pool = [rq.worker("-c", slots, "--drain", db=pg.url) for _ in range(workers)]
    t0 = time.monotonic()
    wait_until(lambda: pg.counts()["processing"], 30, 0.05, "the workers to start jobs")
    kills = every(interval, duration, pg.kill_backends,
                  stop=lambda: not any(w.alive() for w in pool))
    storm_s = time.monotonic() - t0
    for w in pool:
        assert w.wait(300) == 0, w.log()[-3000:]
    problems, _ = check_exactly_once(pg, ledger, ids, pool)
    assert pg.counts()["completed"] == jobs
    figures.record(name, jobs=jobs, workers=f"{workers}x{slots}", kill_rounds=kills,
                   interval_s=interval, storm_s=round(storm_s, 1),
                   total_s=round(time.monotonic() - t0, 1), lost=0, stuck=0, ran_twice=0,
                   outage_lines=problems)


@pytest.mark.timeout(180)
def test_backend_kills_every_quarter_second_fast(rq, pg, figures):
    backend_storm(rq, pg, figures, name="pg-backend-kills-fast", jobs=150, workers=2, slots=6,
                  sleep=0.2, interval=0.25, duration=8)


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_backend_kills_every_quarter_second_for_30s(rq, pg, figures):
    backend_storm(rq, pg, figures, name="pg-backend-kills-soak", jobs=1600, workers=4, slots=5,
                  sleep=0.5, interval=0.25, duration=30)


def cut_link(rq, pg, figures, *, name, jobs, workers, slots, cut_s):
    proxy = pg.proxy()
    url = pg.via("127.0.0.1", proxy.port)
    ledger, ids = enqueue_ledgered(rq, pg.url, jobs, 0.2)
    pool = [rq.worker("-c", slots, "--drain", db=url) for _ in range(workers)]
    wait_until(lambda: pg.counts()["completed"] >= jobs // 5, 60, 0.05, "a fifth of the jobs done")
    dropped = proxy.cut()
    time.sleep(cut_s)
    done_at_heal = pg.counts()["completed"]
    proxy.heal()
    healed = time.monotonic()
    wait_until(lambda: pg.counts()["completed"] > done_at_heal, 60, 0.05, "progress after heal")
    recovery_s = time.monotonic() - healed
    for w in pool:
        assert w.wait(300) == 0, w.log()[-3000:]
    problems, reconnects = check_exactly_once(pg, ledger, ids, pool)
    assert problems == reconnects == workers, [w.log()[-2000:] for w in pool]  # one outage each
    figures.record(name, jobs=jobs, workers=f"{workers}x{slots}", cut_s=cut_s,
                   connections_dropped=dropped, first_progress_after_heal_s=round(recovery_s, 2),
                   lost=0, ran_twice=0, outage_lines_per_worker=problems // workers)


@pytest.mark.timeout(180)
def test_a_cut_link_heals_and_nothing_is_lost_fast(rq, pg, figures):
    cut_link(rq, pg, figures, name="pg-cut-link-fast", jobs=100, workers=2, slots=4, cut_s=3)


@pytest.mark.soak
@pytest.mark.timeout(600)
def test_a_link_cut_for_15s_heals_and_nothing_is_lost(rq, pg, figures):
    cut_link(rq, pg, figures, name="pg-cut-link-soak", jobs=400, workers=2, slots=8, cut_s=15)


@pytest.mark.timeout(180)
def test_a_listing_whose_backend_is_killed_prints_all_or_nothing(rq, pg, figures):
    jobs = 20000
    rq.enqueue_many(({"id": f"l{i:05d}", "command": "true"} for i in range(jobs)), db=pg.url)
    stop = threading.Event()
    killer = threading.Thread(target=every, args=(0.02, 120, pg.kill_backends, stop.is_set))
    killer.start()
    outcomes = collections.Counter()
    try:
        for _ in range(6):
            cp = rq.run("list", "--json", db=pg.url)
            if cp.returncode == 0:
                assert [j["id"] for j in json.loads(cp.stdout)] == sorted(
                    f"l{i:05d}" for i in range(jobs))
                outcomes["complete"] += 1
            else:
                assert cp.stdout == "" and cp.stderr.startswith("error: "), cp.stderr[-500:]
                outcomes["nothing"] += 1
            assert "Traceback" not in cp.stderr
            outcomes["outage_lines"] += cp.stderr.count(PROBLEM)
    finally:
        stop.set()
        killer.join()
    figures.record("pg-list-under-backend-kills", jobs=jobs, runs=6, **outcomes)
