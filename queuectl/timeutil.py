"""Time in queuectl: integer milliseconds since the Unix epoch (UTC) everywhere inside.

Only the edges convert: ISO-8601 with a `Z` and milliseconds for output, ISO-8601 with an
offset for input. Wall-clock `now` is injectable so the store and `decide` can be tested.
"""

import time

from .errors import UsageError


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_last_second: list = [None, ""]  # every log line formats "now": strftime once per second


def format_ms(ms: int | None) -> str | None:
    """2026-11-22T10:30:00.123Z, or None for None."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    if _last_second[0] != seconds:
        t = time.gmtime(seconds)  # by hand: strftime's %Y does not pad years before 1000
        _last_second[:] = [seconds, f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
                                    f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"]
    return f"{_last_second[1]}.{millis:03d}Z"


def parse_iso(text: str) -> int:
    """Parse ISO-8601 with an explicit offset or Z into epoch milliseconds."""
    from datetime import UTC, datetime  # only input needs it: output is formatted by hand
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise UsageError(f"time needs an offset or Z: {text!r}")
    try:
        return round(moment.astimezone(UTC).timestamp() * 1000)
    except (OverflowError, ValueError):  # e.g. year 1 at +05:00 falls before year 1 in UTC
        raise UsageError(f"time out of range: {text!r}") from None


def seconds_between(start_ms: int, end_ms: int) -> float:
    return round((end_ms - start_ms) / 1000, 3)
