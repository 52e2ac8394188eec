"""The writes a user can ask for, shared by the CLI, the dashboard's POST routes and the TUI."""

from collections.abc import Sequence
from typing import Any

CANCEL_WAIT_POLL_S = 0.1  # `cancel --wait`: how often a running job is looked at again


async def retry_dead(store: Any, ids: Sequence[str] | None) -> list[str]:
    """Dead jobs back to pending with attempts reset (None: the whole DLQ). Each id once, in
    the order given; an unknown id or a job that is not dead changes nothing (exit 1)."""
    from ..timeutil import now_ms

    wanted = None if ids is None else list(dict.fromkeys(ids))
    return await store.retry_dead(wanted, now=now_ms())


async def stop_workers(store: Any, timeout: float) -> tuple[list, set[str]]:
    """`worker stop`: ask every live worker to stop gracefully (running jobs finish), wait up
    to `timeout` s. The live workers asked, and the ids of those still alive at the deadline."""
    import asyncio
    import time

    from ..timeutil import now_ms
    from .reading import live_workers, load_settings

    settings = await load_settings(store)
    live = await live_workers(store, settings, now_ms())
    await store.request_stop()
    deadline = time.monotonic() + timeout
    left = {w.id for w in live}
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left &= {w.id for w in await live_workers(store, settings, now_ms())}
    return live, left


def queue_names(names: Sequence[str]) -> list[str]:
    """NAME arguments of `queue pause/resume/set` (or a dashboard URL's), each once, in order;
    a bad name is a UsageError (exit 2, HTTP 400)."""
    from ..spec import queue_names as checked

    return list(dict.fromkeys(n for name in names for n in checked(name, "NAME")))


async def pause_queues(store: Any, names: Sequence[str], *, paused: bool) -> list[str]:
    """`queue pause` / `queue resume`: an unknown queue is created with the setting (a queue
    can be paused before its first job); running jobs finish either way."""
    chosen = queue_names(names)
    await store.set_queues(chosen, paused=paused)
    return chosen


async def cancel_jobs(store: Any, *, ids: Sequence[str] | None = None, batch: str | None = None,
                      queue: str | None = None, wait: bool = False) -> list:
    """`cancel`: waiting jobs go dead (`cancelled`) at once, running ones are killed by their
    worker (they stay processing until then). Named ids must all exist (JobNotFoundError) and
    be unfinished (WrongStateError), or nothing changes. The jobs as they are after it; with
    `wait`, once none is still running (a job that won the race ends completed)."""
    import asyncio

    from ..timeutil import now_ms

    wanted = None if ids is None else list(dict.fromkeys(ids))
    jobs = await store.cancel_jobs(ids=wanted, batch=batch, queue=queue, now=now_ms())
    while wait and any(job.state == "processing" for job in jobs):
        await asyncio.sleep(CANCEL_WAIT_POLL_S)
        jobs = [await store.get_job(job.id) if job.state == "processing" else job
                for job in jobs]
    return jobs
