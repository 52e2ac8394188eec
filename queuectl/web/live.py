"""A running attempt's output, live, as server-sent events: the shared follow reader
(queuectl/follow.py, as `logs --follow` uses it) turned into `output` events of text, then one
`end` event. The page appends each piece as a text node, so output is never markup."""

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

from ..errors import QueuectlError
from ..follow import STDOUT, Follower

NAMES = {STDOUT: "stdout"}


async def output_events(store: Any, job_id: str) -> AsyncIterator[str]:
    """`output` events {"stream", "text"} as the attempt writes, then `end` {"attempt"} (or
    {"error"} when the job ended without the attempt it waited for). Bytes cut inside a UTF-8
    character wait for the rest; invalid bytes become U+FFFD, as `/api/jobs/ID/logs` shows."""
    decoders = {stream: codecs.getincrementaldecoder("utf-8")("replace") for stream in (1, 2)}
    follower = Follower(store, job_id)
    yield "retry: 86400000\n\n"  # a reconnect would start over: the page reloads instead
    try:
        async for stream, data in follower.pieces():
            text = decoders[stream].decode(data)
            if text:
                yield _event("output", {"stream": NAMES.get(stream, "stderr"), "text": text})
    except QueuectlError as exc:
        yield _event("end", {"attempt": follower.attempt, "error": str(exc)})
        return
    for stream, decoder in decoders.items():
        rest = decoder.decode(b"", final=True)
        if rest:
            yield _event("output", {"stream": NAMES.get(stream, "stderr"), "text": rest})
    yield _event("end", {"attempt": follower.attempt})


def _event(name: str, payload: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"
