"""Soak: a store that processes ~1,000 jobs a minute for a simulated week, with retention on,
stops growing (CLI.md: "Space is reused, so a store under steady load stops growing").

Time is fast-forwarded: every store verb and the cleaner's run_once take `now`, so a week of
minutes runs as fast as SQLite can insert, claim, finish and delete the ~10 million jobs.
keep-completed is one day here (the default is seven, which a one-week run could not show
levelling off); the store is sampled at the end of every simulated day from day 2 on, once a
full day of jobs is held. SOAK_SCALE=0.1 runs a tenth of the jobs (100 a minute).
"""

import os
import time

import pytest

from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition
from queuectl.maintenance.cleaner import Cleaner
from queuectl.store.sqlite import SqliteStore

MINUTE, DAY = 60_000, 86_400_000
STEP_MINUTES = 10  # jobs of ten minutes per round of verbs; retention runs every round
START = 1_800_000_000_000


async def one_step(store, step: int, now: int, per_step: int) -> None:
    jobs = [NewJob(f"s{step}-{n}", "echo hello", max_retries=0, batch=f"b{step}", cwd="/srv",
                   env={"RUN": "soak"}) for n in range(per_step)]
    await store.insert_jobs(jobs, now=now)
    claimed = await store.claim_jobs(worker_id="soak", limit=per_step, now=now)
    result = RunResult(0, None, now, now + 20, 0.02, b"hello\n", b"")
    await store.finish_jobs([Finish(j.id, "soak", j.run_no, Transition(JobState.COMPLETED, None),
                                    result) for j in claimed], now=now + 20)


def store_bytes(path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@pytest.mark.soak
@pytest.mark.timeout(7200)
async def test_a_week_at_a_thousand_jobs_a_minute_stays_the_same_size(tmp_path, figures):
    scale = float(os.environ.get("SOAK_SCALE", "1"))
    per_step = round(1000 * scale) * STEP_MINUTES
    path = tmp_path / "soak.db"
    store = await SqliteStore.open(path)
    await store.set_config("keep-completed", str(DAY // 1000))
    cleaner = Cleaner(store, log=lambda _: None, pause=0)
    sizes, held, started = {}, {}, time.monotonic()
    try:
        steps_a_day = DAY // (STEP_MINUTES * MINUTE)
        for step in range(7 * steps_a_day):
            now = START + step * STEP_MINUTES * MINUTE
            await one_step(store, step, now, per_step)
            await cleaner.run_once(now)
            day, last_of_day = divmod(step + 1, steps_a_day)
            if last_of_day == 0 and day >= 2:
                sizes[day] = store_bytes(path)
                held[day] = sum((await store.count_by_state()).values())
        actual = await store._fetchone("SELECT count(*) FROM jobs")
    finally:
        await store.close()
    figures.record("retention-soak", jobs=7 * steps_a_day * per_step, held_per_day=held,
                   bytes_per_day=sizes, seconds=round(time.monotonic() - started))
    assert actual[0] == held[7]  # the O(1) counts stayed exact through millions of deletes
    assert max(held.values()) - min(held.values()) <= 2 * per_step  # a day of jobs, give or take
    assert max(sizes.values()) <= sizes[2] * 1.10, sizes  # the file stopped growing on day 2
