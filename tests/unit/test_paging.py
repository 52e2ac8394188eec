"""Pure paging logic shared by the backends: a text search looks at one window of rows per page."""

from types import SimpleNamespace

from queuectl.jobs import JobState
from queuectl.store.paging import (
    SEQ,
    Filters,
    PageQuery,
    like_pattern,
    minute_buckets,
    search_page,
)


def row(seq):
    """A page row as the backends return it: the job columns, then seq at SEQ."""
    return (f"j{seq}", *[None] * (SEQ - 1), seq)


def to_job(r):
    return SimpleNamespace(id=r[0])


def fake_store(matching):
    seen = []

    async def fetch(cursor, size, floor):
        seen.append((cursor, floor))
        hits = sorted((s for s in matching if floor <= s < cursor), reverse=True)
        return [row(s) for s in hits[:size]]

    async def newest():
        return 1_000

    return fetch, newest, seen


async def test_a_rare_match_is_searched_window_by_window():
    fetch, newest, seen = fake_store({950, 120})
    first = await search_page(fetch, newest, to_job, before=None, limit=10, window=300)
    assert [j.id for j in first.jobs] == ["j950"] and first.older == 701 and first.newer is None
    second = await search_page(fetch, newest, to_job, before=first.older, limit=10, window=300)
    assert second.jobs == [] and second.older == 401  # nothing here: search on from 401
    third = await search_page(fetch, newest, to_job, before=second.older, limit=10, window=300)
    assert [j.id for j in third.jobs] == ["j120"] and third.older == 101
    fourth = await search_page(fetch, newest, to_job, before=third.older, limit=10, window=300)
    assert fourth.jobs == [] and fourth.older is None
    assert seen == [(1001, 701), (701, 401), (401, 101), (101, 0)]


async def test_a_full_page_inside_the_window_continues_after_its_last_row():
    fetch, newest, _ = fake_store(set(range(990, 1000)))
    page = await search_page(fetch, newest, to_job, before=None, limit=3, window=300)
    assert [j.id for j in page.jobs] == ["j999", "j998", "j997"] and page.older == 997


async def test_an_empty_store_has_no_search_pages():
    async def newest():
        return None

    assert await search_page(None, newest, to_job, before=None, limit=5) == ([], None, None)


def test_like_patterns_keep_wildcards_literal():
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


def test_page_sql_for_both_placeholder_styles():
    sql, args = PageQuery("id", mark=lambda n: f"${n}", like="ILIKE").build(
        newer=False, cursor=10, size=5, filters=Filters(JobState.DEAD, text="x"), floor=2)
    assert sql == ("SELECT id, seq FROM jobs WHERE seq < $1 AND seq >= $2 AND state = $3 AND "
                   "(id ILIKE $4 ESCAPE '\\' OR command ILIKE $4 ESCAPE '\\') "
                   "ORDER BY seq DESC LIMIT $5")
    assert args == [10, 2, "dead", "%x%", 5]


def test_page_sql_with_queue_and_batch():
    sql, args = PageQuery("id", mark=lambda n: f"?{n}", like="LIKE").build(
        newer=True, cursor=7, size=3, filters=Filters(queue="mail", batch="b1"))
    assert sql == ("SELECT id, seq FROM jobs WHERE seq > ?1 AND queue = ?2 AND batch = ?3 "
                   "ORDER BY seq LIMIT ?4")
    assert args == [7, "mail", "b1", 3]


def test_one_exact_filter_pages_by_index_and_a_combination_by_window():
    assert not Filters().windowed() and not Filters(queue="q").windowed()
    assert not Filters(JobState.DEAD).windowed() and not Filters(batch="b").windowed()
    assert Filters(JobState.DEAD, queue="q").windowed() and Filters(text="x").windowed()
    assert Filters(queue="q", batch="b").windowed()


def test_minute_buckets_fill_the_gaps_oldest_first():
    minutes = minute_buckets([(1, 2, 1, 0.5, 3)], start=60_000, minutes=3)
    assert [(m.start, m.completed, m.failed, m.timed) for m in minutes] == [
        (60_000, 0, 0, 0), (120_000, 2, 1, 3), (180_000, 0, 0, 0)]
