"""What the pages and the API show, read through store verbs and core/ (no HTTP here)."""

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..core.reading import live_workers, load_settings, status_document
from ..errors import UsageError
from ..jobs import STATES, JobPage, JobState
from ..store.paging import Filters
from . import chart, metrics

PAGE_SIZE = 50
MAX_PAGE = 1000
RUNNING_SHOWN = 200  # running jobs are bounded by the live slots; this only caps the page
LISTING_PARAMS = frozenset({"state", "queue", "batch", "q", "limit", "before", "after"})


class Listing(NamedTuple):
    """A filtered, keyset-paged job list as asked for in a query string."""

    state: JobState | None = None
    text: str | None = None
    limit: int = PAGE_SIZE
    before: int | None = None
    after: int | None = None
    queue: str | None = None
    batch: str | None = None

    async def page(self, store: Any) -> JobPage:
        return await store.page_jobs(state=self.state, text=self.text, queue=self.queue,
                                     batch=self.batch, before=self.before, after=self.after,
                                     limit=self.limit)

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (self.state, self.text, self.queue, self.batch))

    @property
    def windowed(self) -> bool:
        """Paged one search window at a time, older only (a text, or two exact filters)."""
        return Filters(self.state, self.queue, self.batch, self.text).windowed()

    def query(self, **cursor: int) -> str:
        """The query string of this listing at another cursor."""
        import urllib.parse

        pairs = {"state": self.state and self.state.value, "queue": self.queue,
                 "batch": self.batch, "q": self.text,
                 "limit": self.limit if self.limit != PAGE_SIZE else None} | cursor
        return urllib.parse.urlencode({k: v for k, v in pairs.items() if v is not None})


def parse_listing(params: Mapping[str, str], *, known: frozenset[str] = LISTING_PARAMS) -> Listing:
    """Query parameters -> Listing; a bad or unknown one is a UsageError (HTTP 400)."""
    unknown = sorted(set(params) - known)
    if unknown:
        raise UsageError(f"unknown query parameter {unknown[0]!r}")
    state = params.get("state") or None
    if state is not None and state not in STATES:
        raise UsageError(f"unknown state {state!r} (valid: {', '.join(STATES)})")
    limit = _int_param(params, "limit", PAGE_SIZE, 1, MAX_PAGE)
    before = _int_param(params, "before", None, 0, 2**63 - 1)
    after = _int_param(params, "after", None, 0, 2**63 - 1)
    text = (params.get("q") or "").strip() or None
    queue, batch = (params.get(k, "").strip() or None for k in ("queue", "batch"))
    return Listing(state and JobState(state), text, limit, before, after, queue, batch)


def _int_param(params: Mapping[str, str], name: str, default: int | None, low: int,
               high: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def parse_attempt(params: Mapping[str, str]) -> int | None:
    """`?attempt=N` as `logs --attempt N` takes it; absent: the latest attempt."""
    return _int_param(params, "attempt", None, 1, 2**31 - 1)


async def overview(store: Any, *, now: int) -> dict[str, Any]:
    """The overview page: the status document, the chart, and each live worker's running jobs."""
    status = await status_document(store, now=now)
    minutes = await store.activity(now=now)
    running = (await store.page_jobs(state=JobState.PROCESSING, limit=RUNNING_SHOWN)).jobs
    by_worker: dict[str, list] = {}
    for job in running:
        by_worker.setdefault(job.worker_id or "", []).append(job)
    for worker in status["workers"]:
        worker["jobs"] = by_worker.get(worker["id"], [])
    return {"status": status, "chart": chart.build(minutes), "running": len(running)}


async def metrics_text(store: Any, *, now: int) -> str:
    """/metrics: the kept counts (per state and per queue), the workers table and index-only
    reads of the last hour."""
    counts = await store.count_by_state()
    workers = await live_workers(store, await load_settings(store), now)
    summary = await store.metrics(now=now)
    minutes = await store.activity(now=now)
    per_queue = {q.name: q.counts for q in await store.list_queues()}
    return metrics.render(counts=counts, queues=per_queue, workers=workers,
                          p95=summary.p95_duration, minutes=minutes)
