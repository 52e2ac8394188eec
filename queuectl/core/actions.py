"""The writes a user can ask for, shared by the CLI and the dashboard's POST routes."""

from collections.abc import Sequence
from typing import Any


async def retry_dead(store: Any, ids: Sequence[str] | None) -> list[str]:
    """Dead jobs back to pending with attempts reset (None: the whole DLQ). Each id once, in
    the order given; an unknown id or a job that is not dead changes nothing (exit 1)."""
    from ..timeutil import now_ms

    wanted = None if ids is None else list(dict.fromkeys(ids))
    return await store.retry_dead(wanted, now=now_ms())
