"""Keyset paging and per-minute buckets shared by the backends: `list` at a million rows never
holds them all, and a dashboard page costs an index walk of one page whatever the store's size."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from ..jobs import Job, JobPage, JobState, MinuteStats
from .rows import SEQ  # every page row is JOB_COLUMNS followed by seq, the enqueue-order key

NEWEST = 2**63 - 1  # the cursor "before everything"
MINUTE_MS = 60_000
# A text filter looks at rows one by one: one page looks at most this many seq values (about
# 10 ms on SQLite, 30-60 ms on PostgreSQL here), then offers to search on from where it stopped.
SEARCH_WINDOW = 50_000


async def pages(fetch: Callable[[int, int], Awaitable[list[Any]]], *, limit: int | None,
                chunk: int) -> AsyncIterator[Any]:
    """Rows in seq order from fetch(after_seq, size), `chunk` at a time, `limit` in all."""
    after, left = 0, limit
    while left is None or left > 0:
        size = chunk if left is None else min(chunk, left)
        rows = await fetch(after, size)
        for row in rows:
            yield row
        if len(rows) < size:
            return
        after = rows[-1][SEQ]
        left = None if left is None else left - len(rows)


class PageQuery:
    """The SQL of one filtered page, for either backend's placeholder style.

    Rows walk away from the cursor: `seq < cursor ORDER BY seq DESC` for older rows, `seq >
    cursor ORDER BY seq` for newer ones. One exact filter walks its own index (Filters);
    without, the primary key; a text or combined filter checks rows along a bounded window
    (search_page; DECISIONS.md, "Dashboard")."""

    def __init__(self, columns: str, *, mark: Callable[[int], str], like: str) -> None:
        self.columns, self.mark, self.like = columns, mark, like

    def build(self, *, newer: bool, cursor: int, size: int, filters: "Filters",
              floor: int | None = None) -> tuple[str, list[Any]]:
        """`floor`: walking older, stop at this seq (a search's window)."""
        args: list[Any] = [cursor]
        where = [f"seq {'>' if newer else '<'} {self.mark(1)}"]
        if floor is not None:
            args.append(floor)
            where.append(f"seq >= {self.mark(len(args))}")
        for column, value in filters.exact():
            args.append(value)
            where.append(f"{column} = {self.mark(len(args))}")
        if filters.text:
            args.append(like_pattern(filters.text))
            pattern = self.mark(len(args))
            where.append(f"(id {self.like} {pattern} ESCAPE '\\' "
                         f"OR command {self.like} {pattern} ESCAPE '\\')")
        args.append(size)
        order = "seq" if newer else "seq DESC"
        sql = (f"SELECT {self.columns}, seq FROM jobs WHERE {' AND '.join(where)} "
               f"ORDER BY {order} LIMIT {self.mark(len(args))}")
        return sql, args


class Filters(NamedTuple):
    """What a job list is filtered by. One exact filter walks its own index -- (state, seq),
    (queue, seq) or (batch, seq) -- and stops after a page; a text, or two exact filters at
    once, has no index of its own and is searched one window at a time (search_page)."""

    state: JobState | None = None
    queue: str | None = None
    batch: str | None = None
    text: str | None = None

    def exact(self) -> list[tuple[str, str]]:
        pairs = (("state", self.state and self.state.value), ("queue", self.queue),
                 ("batch", self.batch))
        return [(column, value) for column, value in pairs if value is not None]

    def windowed(self) -> bool:
        return bool(self.text) or len(self.exact()) > 1


def like_pattern(text: str) -> str:
    """A substring match for LIKE: the user's % and _ are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def keyset_page(fetch: Callable[[bool, int, int], Awaitable[list[Any]]],
                      to_job: Callable[[Any], Job], *, before: int | None, after: int | None,
                      limit: int) -> JobPage:
    """A page newest first. fetch(newer, cursor, size) returns rows walking away from cursor.
    Going back (`after`) to fewer than a page of newer rows gives the first page instead."""
    if after is not None:
        rows = await fetch(True, after, limit + 1)
        if len(rows) > limit:
            rows = rows[:limit][::-1]
            return JobPage([to_job(r) for r in rows], rows[-1][SEQ], rows[0][SEQ])
        before = None
    rows = await fetch(False, NEWEST if before is None else before, limit + 1)
    older = rows[limit - 1][SEQ] if len(rows) > limit else None
    rows = rows[:limit]
    newer = rows[0][SEQ] if before is not None and rows else None
    return JobPage([to_job(r) for r in rows], older, newer)


def minute_window(now: int, minutes: int) -> tuple[int, int]:
    """[start, end) of the last `minutes` wall-clock minutes, the current one included."""
    end = (now // MINUTE_MS + 1) * MINUTE_MS
    return end - minutes * MINUTE_MS, end


def minute_buckets(rows: Sequence[Sequence[Any]], *, start: int, minutes: int) -> list[MinuteStats]:
    """Rows of (minute index, completed, failed, duration sum, timed) -> every minute, oldest
    first, the empty ones as zeros."""
    found = {int(r[0]): r for r in rows}
    out = []
    for i in range(minutes):
        row = found.get(i)
        counts = (0, 0, 0.0, 0) if row is None else (
            int(row[1]), int(row[2]), float(row[3] or 0.0), int(row[4]))
        out.append(MinuteStats(start + i * MINUTE_MS, *counts))
    return out


async def search_page(fetch: Callable[[int, int, int], Awaitable[list[Any]]],
                      newest_seq: Callable[[], Awaitable[int | None]],
                      to_job: Callable[[Any], Job], *, before: int | None, limit: int,
                      window: int = SEARCH_WINDOW) -> JobPage:
    """A text search's page, walking older only: fetch(cursor, size, floor) looks at the rows
    with floor <= seq < cursor. Fewer than `limit` matches in the window: the page ends there
    and `older` is the window's floor, so each page costs one window however rare the text.
    `newer` is None: a search restarts from the newest job rather than paging back."""
    if before is None:
        top = await newest_seq()
        if top is None:
            return JobPage([], None, None)
        before = top + 1
    floor = max(before - window, 0)
    rows = await fetch(before, limit + 1, floor)
    more_in_window = len(rows) > limit
    older = rows[limit - 1][SEQ] if more_in_window else (floor or None)
    return JobPage([to_job(r) for r in rows[:limit]], older, None)


async def filtered_page(query: PageQuery, run: Callable[[str, list[Any]], Awaitable[list[Any]]],
                        to_job: Callable[[Any], Job], *, filters: Filters, before: int | None,
                        after: int | None, limit: int) -> JobPage:
    """page_jobs for any backend: `run(sql, args)` runs one statement and returns its rows."""
    if filters.windowed():
        async def newest_seq() -> int | None:
            rows = await run("SELECT max(seq) FROM jobs", [])
            return rows[0][0] if rows else None

        return await search_page(
            lambda cursor, size, floor: run(*query.build(
                newer=False, cursor=cursor, size=size, filters=filters, floor=floor)),
            newest_seq, to_job, before=before, limit=limit)
    return await keyset_page(
        lambda newer, cursor, size: run(*query.build(
            newer=newer, cursor=cursor, size=size, filters=filters)),
        to_job, before=before, after=after, limit=limit)
