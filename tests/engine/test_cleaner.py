"""maintenance/cleaner.py: retention's run_once(now), called directly with `now` fast-forwarded."""

import asyncio

from queuectl.jobs import JobState, NewJob
from queuectl.maintenance.cleaner import Cleaner, purge
from tests.store.helpers import NOW, claim, finish

HOUR = 3_600_000


async def settle(store, ids, state, now):
    """Run the named jobs to `state` at time `now`."""
    await store.insert_jobs([NewJob(i, "true", max_retries=0) for i in ids], now=now)
    for claimed in await claim(store, len(ids), now=now):
        await store.finish_jobs([finish(claimed, state)], now=now)


async def test_defaults_keep_completed_a_week_and_dead_forever(store):
    await settle(store, ["c1"], JobState.COMPLETED, NOW)
    await settle(store, ["d1"], JobState.DEAD, NOW)
    cleaner = Cleaner(store, log=print)
    assert await cleaner.run_once(NOW + 7 * 24 * HOUR - 1) == 0
    assert await cleaner.run_once(NOW + 7 * 24 * HOUR + 1) == 1
    assert [j.id async for j in store.iter_jobs()] == ["d1"]
    assert await cleaner.run_once(NOW + 10**12) == 0  # keep-dead 0: forever


async def test_settings_are_read_at_every_pass(store):
    await settle(store, ["c1", "c2"], JobState.COMPLETED, NOW)
    await settle(store, ["d1"], JobState.DEAD, NOW + HOUR)
    await store.insert_jobs([NewJob("p1", "true", max_retries=0)], now=NOW)  # stays pending
    cleaner = Cleaner(store, log=print)
    await store.set_config("keep-completed", "0")
    await store.set_config("keep-dead", "60")
    assert await cleaner.run_once(NOW + HOUR + 61_000) == 1  # only d1; completed kept forever
    await store.set_config("keep-completed", "3600")
    assert await cleaner.run_once(NOW + HOUR + 61_000) == 2
    assert [j.id async for j in store.iter_jobs()] == ["p1"]
    assert (await store.count_by_state())["pending"] == 1
    assert sum((await store.count_by_state()).values()) == 1


async def test_purge_works_in_slices_until_one_comes_back_short(store):
    await settle(store, [f"j{n}" for n in range(23)], JobState.COMPLETED, NOW)
    calls = []
    real = store.purge_jobs

    async def counting(**kwargs):
        calls.append(kwargs["limit"])
        return await real(**kwargs)

    store.purge_jobs = counting
    try:
        assert await purge(store, states=[JobState.COMPLETED], before=NOW + 1,
                           slice_size=5) == 23
    finally:
        del store.purge_jobs
    assert calls == [5] * 5  # 5+5+5+5+3: the short fifth slice ends it


async def test_the_interval_follows_the_shortest_setting(store):
    cleaner = Cleaner(store, log=print)
    await store.set_config("keep-dead", "4")
    await cleaner.run_once(NOW)
    assert 1.6 <= cleaner.interval() <= 2.4
    await store.set_config("keep-dead", "0")
    await cleaner.run_once(NOW)
    assert 48 <= cleaner.interval() <= 72  # keep-completed a week: once a minute


async def test_a_failing_pass_is_logged_and_the_service_carries_on(store, monkeypatch):
    import queuectl.maintenance.cleaner as module

    monkeypatch.setattr(module, "MIN_INTERVAL_S", 0.001)
    logged, passes = [], []

    class Flaky(Cleaner):
        async def run_once(self, now):
            passes.append(now)
            if len(passes) == 1:
                raise OSError("disk hiccup")
            return 3

        def interval(self):
            return 0.001

    task = asyncio.create_task(Flaky(store, log=logged.append).run(lambda: NOW))
    while len(passes) < 3:
        await asyncio.sleep(0.005)
    task.cancel()
    assert logged[0] == "retention: OSError: disk hiccup; will retry"
    assert "retention: deleted 3 finished job(s)" in logged
