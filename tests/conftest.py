"""Fixtures shared by the unit, store and engine tiers (e2e has its own conftest)."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from queuectl.jobs import NewJob

T0 = 1_800_000_000_000  # a fixed "now" (epoch ms) for tests that pass time in


def _new_job(job_id: str, command: str = "true", **fields) -> NewJob:
    fields.setdefault("max_retries", 3)  # the store expects the config default filled in
    return NewJob(id=job_id, command=command, **fields)


async def _eventually(
    predicate: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0, every: float = 0.02
) -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


@pytest.fixture
def new_job():
    """new_job("a", "echo hi", priority=5) -> NewJob with max_retries filled (3)."""
    return _new_job


@pytest.fixture
def eventually():
    """await eventually(lambda: ..., timeout=5): poll with a deadline instead of sleeping."""
    return _eventually
