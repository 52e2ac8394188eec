"""Server-sent events: the status document whenever it changes, read once a second at most
however many pages are open (every stream shares one cached read)."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio

from ..core.reading import status_document
from ..timeutil import now_ms

INTERVAL_S = 1.0  # the contract asks for a status event at least every 2 s while things change
KEEPALIVE_S = 15.0  # a comment line now and then keeps proxies from closing an idle stream


class StatusFeed:
    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = anyio.Lock()
        self._read_at = -INTERVAL_S
        self._text = ""

    async def current(self) -> str:
        """The status document as JSON, at most INTERVAL_S old."""
        async with self._lock:
            if time.monotonic() - self._read_at >= INTERVAL_S:
                document = await status_document(self.store, now=now_ms())
                self._text = json.dumps(document, separators=(",", ":"))
                self._read_at = time.monotonic()
            return self._text


async def status_events(feed: StatusFeed) -> AsyncIterator[str]:
    """`event: status` on every change (the first at once), a keep-alive comment otherwise.
    Starlette cancels this generator when the client goes away."""
    sent, quiet_since = None, time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        text = await feed.current()
        if text != sent:
            yield f"event: status\ndata: {text}\n\n"
            sent, quiet_since = text, time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await anyio.sleep(INTERVAL_S)
