"""The PostgreSQL store's dashboard reads (filtered keyset pages, per-minute activity), apart
from postgres.py so that module does not grow; SQL shapes shared with SQLite in paging.py."""

from typing import Any

from ..jobs import JobPage, JobState, MinuteStats
from . import postgres_schema as sql
from .paging import Filters, PageQuery, filtered_page, minute_buckets, minute_window
from .rows import JOB_COLUMNS, job_from_row

PAGE = PageQuery(JOB_COLUMNS, mark=lambda n: f"${n}", like="ILIKE")


class PostgresViews:
    """Needs `async def _fetch(query, *args)` from PostgresStore."""

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def page_jobs(self, *, state: JobState | None = None, text: str | None = None,
                        queue: str | None = None, batch: str | None = None,
                        before: int | None = None, after: int | None = None,
                        limit: int = 50) -> JobPage:
        """Newest first, filtered by state and by text in the id or command (ILIKE)."""
        return await filtered_page(PAGE, lambda query, args: self._fetch(query, *args),
                                   job_from_row, filters=Filters(state, queue, batch, text),
                                   before=before, after=after, limit=limit)

    async def activity(self, *, now: int, minutes: int = 60) -> list[MinuteStats]:
        """Attempts finished per wall-clock minute over the last `minutes`, oldest first."""
        start, end = minute_window(now, minutes)
        rows = await self._fetch(sql.ACTIVITY, start, end)
        return minute_buckets(rows, start=start, minutes=minutes)
