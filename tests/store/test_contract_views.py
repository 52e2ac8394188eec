"""Store contract, the dashboard's reads: page_jobs (filtered keyset pages, newest first) and
activity (attempts per wall-clock minute)."""

from queuectl.jobs import JobState

from .helpers import NOW, claim, finish, job, make_dead, result


async def page_ids(store, **kw):
    page = await store.page_jobs(**kw)
    return [j.id for j in page.jobs], page


async def test_a_page_of_an_empty_store(store):
    assert await store.page_jobs(limit=10) == ([], None, None)


async def test_pages_walk_newest_first_and_back(store):
    await store.insert_jobs([job(f"j{i:02}") for i in range(25)], now=NOW)
    first, page = await page_ids(store, limit=10)
    assert first == [f"j{i:02}" for i in range(24, 14, -1)]
    assert page.newer is None and page.older is not None
    second, page2 = await page_ids(store, limit=10, before=page.older)
    assert second == [f"j{i:02}" for i in range(14, 4, -1)]
    third, page3 = await page_ids(store, limit=10, before=page2.older)
    assert third == [f"j{i:02}" for i in range(4, -1, -1)] and page3.older is None
    back, _ = await page_ids(store, limit=10, after=page3.newer)
    assert back == second
    # back from the second page: fewer than a page is newer, so the first page comes back whole
    again, page_again = await page_ids(store, limit=10, after=page2.newer)
    assert again == first and page_again.newer is None


async def test_pages_filter_by_state(store):
    await store.insert_jobs([job(f"j{i}") for i in range(6)], now=NOW)
    await claim(store, 2)
    assert (await page_ids(store, state=JobState.PROCESSING))[0] == ["j1", "j0"]
    pending, page = await page_ids(store, state=JobState.PENDING, limit=3)
    assert pending == ["j5", "j4", "j3"]
    assert (await page_ids(store, state=JobState.PENDING, limit=3, before=page.older))[0] == ["j2"]
    assert (await page_ids(store, state=JobState.DEAD))[0] == []


async def test_pages_filter_by_text_in_id_or_command(store):
    await store.insert_jobs([
        job("build-1", "make all"), job("deploy", "rsync site/ host:"), job("Build-2", "make test"),
        job("odd%_id", "echo 100%"), job("other", "echo a_b"),
    ], now=NOW)
    assert (await page_ids(store, text="build"))[0] == ["Build-2", "build-1"]  # ASCII case folded
    assert (await page_ids(store, text="make"))[0] == ["Build-2", "build-1"]
    assert (await page_ids(store, text="%"))[0] == ["odd%_id"]  # LIKE wildcards are literal
    assert (await page_ids(store, text="_"))[0] == ["other", "odd%_id"]
    assert (await page_ids(store, text="\\"))[0] == []
    assert (await page_ids(store, text="make", state=JobState.DEAD))[0] == []


async def test_text_pages_keep_their_filter_across_cursors(store):
    await store.insert_jobs([job(f"j{i:02}", "echo hit" if i % 3 == 0 else "true")
                             for i in range(30)], now=NOW)
    first, page = await page_ids(store, text="hit", limit=4)
    assert first == ["j27", "j24", "j21", "j18"]
    rest, last = await page_ids(store, text="hit", limit=4, before=page.older)
    assert rest == ["j15", "j12", "j09", "j06"]
    final, end = await page_ids(store, text="hit", limit=4, before=last.older)
    assert final == ["j03", "j00"] and end.older is None
    assert page.newer is None and last.newer is None  # a search pages older only


async def test_activity_is_sixty_minutes_with_zeros(store):
    minutes = await store.activity(now=NOW)
    assert len(minutes) == 60
    assert all(m.completed == m.failed == m.timed == 0 for m in minutes)
    assert minutes[-1].start <= NOW < minutes[-1].start + 60_000
    assert all(b.start - a.start == 60_000 for a, b in zip(minutes, minutes[1:], strict=False))


async def test_activity_counts_attempts_in_their_minute(store):
    await store.insert_jobs([job(f"j{i}") for i in range(4)], now=NOW - 600_000)
    a, b, c, d = await claim(store, 4, now=NOW - 600_000)
    await store.finish_jobs([
        finish(a, res=result(0, finished=NOW + 10_000, duration=1.0)),
        finish(b, res=result(0, finished=NOW + 20_000, duration=3.0)),
        finish(c, JobState.FAILED, run_at=NOW + 10, res=result(2, finished=NOW - 90_000)),
        finish(d, res=result(0, finished=NOW - 3_700_000)),  # older than the hour: not counted
    ], now=NOW)
    minutes = await store.activity(now=NOW + 30_000)  # NOW starts a minute
    now_minute, earlier = minutes[-1], minutes[-3]
    assert (now_minute.completed, now_minute.failed, now_minute.timed) == (2, 0, 2)
    assert now_minute.duration_sum == 4.0
    assert (earlier.completed, earlier.failed) == (0, 1)
    assert sum(m.completed + m.failed for m in minutes) == 3
    assert len(await store.activity(now=NOW + 30_000, minutes=5)) == 5


async def test_activity_counts_a_dead_attempt_as_failed(store):
    await make_dead(store, "d")
    assert sum(m.failed for m in await store.activity(now=NOW + 100)) == 1


async def test_pages_filter_by_queue_and_batch(store):
    await store.insert_jobs([job(f"j{i}", queue="mail" if i % 2 else "default",
                                 batch="b1" if i < 4 else "b2") for i in range(8)], now=NOW)
    mail, page = await page_ids(store, queue="mail", limit=2)
    assert mail == ["j7", "j5"] and page.newer is None
    older, page2 = await page_ids(store, queue="mail", limit=2, before=page.older)
    assert older == ["j3", "j1"] and page2.older is None
    assert (await page_ids(store, queue="mail", limit=2, after=page2.newer))[0] == mail
    assert (await page_ids(store, batch="b1"))[0] == ["j3", "j2", "j1", "j0"]
    assert (await page_ids(store, queue="nope"))[0] == []
    assert (await page_ids(store, batch="nope"))[0] == []


async def test_pages_combine_queue_batch_state_and_text(store):
    await store.insert_jobs([job(f"j{i}", "echo hit" if i % 3 == 0 else "true",
                                 queue="mail" if i % 2 else "default",
                                 batch="b1" if i < 6 else "b2") for i in range(12)], now=NOW)
    await claim(store, 1)  # j0, the oldest due job
    assert (await page_ids(store, queue="mail", batch="b1"))[0] == ["j5", "j3", "j1"]
    assert (await page_ids(store, queue="default", state=JobState.PROCESSING))[0] == ["j0"]
    assert (await page_ids(store, queue="mail", text="hit"))[0] == ["j9", "j3"]
    both, page = await page_ids(store, batch="b2", state=JobState.PENDING, limit=2)
    assert both == ["j11", "j10"] and page.newer is None  # combined: a window, older only
    rest, end = await page_ids(store, batch="b2", state=JobState.PENDING, limit=4,
                               before=page.older)
    assert rest == ["j9", "j8", "j7", "j6"] and end.older is None
