"""`--run-at` as users type it: ISO-8601 with an offset, a time of day in the local zone
(`23:30`, `11:30pm`: its next occurrence), or `+DURATION` / `now+DURATION` from now.

Pure: `now` (epoch ms) and the zone are passed in; None means the system's local zone."""

import re
from datetime import date, datetime, time, timedelta, tzinfo

from .durations import parse_duration
from .errors import UsageError
from .spec import MAX_SECONDS
from .timeutil import parse_iso

_CLOCK = re.compile(r"(\d{1,2})(?::(\d\d)(?::(\d\d))?)?\s*(?:([ap])\.?m\.?)?")
FORMS = "ISO-8601 with an offset or Z, a time of day like 23:30 or 11:30pm, or +15m"


def parse_run_at(text: str, *, now: int, zone: tzinfo | None = None) -> int:
    """Epoch ms of the moment `text` names; ValueError with a short reason otherwise."""
    compact = text.strip().lower()
    if compact.startswith("now"):
        compact = compact[3:].lstrip() or "+0"
    if compact.startswith("+"):
        return now + _ahead_ms(compact[1:])
    clock = time_of_day(compact)
    if clock is not None:
        return next_occurrence(clock, now=now, zone=zone)
    try:
        return parse_iso(text)
    except UsageError as exc:
        if str(exc).startswith("not an ISO-8601 time"):
            raise ValueError(f"not a time: {text.strip()!r} (use {FORMS})") from None
        raise ValueError(str(exc)) from None


def _ahead_ms(text: str) -> int:
    seconds = parse_duration(text)
    if seconds > MAX_SECONDS:
        raise ValueError(f"at most {MAX_SECONDS} seconds (ten years) ahead, got {text!r}")
    return round(seconds * 1000)


def time_of_day(text: str) -> time | None:
    """`23:30`, `23:30:15`, `11pm`, `11:30 p.m.`; None when `text` is not one (a bare `23`
    is not: it could as well be meant as seconds). ValueError for an impossible hour."""
    match = _CLOCK.fullmatch(text)
    if match is None or not (match.group(2) or match.group(4)):
        return None
    hour, minute, second = (int(g or 0) for g in match.group(1, 2, 3))
    if match.group(4):
        if not 1 <= hour <= 12:
            raise ValueError(f"not a time of day: {text!r} (the hour of am/pm is 1 to 12)")
        hour = hour % 12 + (12 if match.group(4) == "p" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"not a time of day: {text!r}")
    return time(hour, minute, second)


def next_occurrence(clock: time, *, now: int, zone: tzinfo | None) -> int:
    """The first moment after `now` whose wall clock in `zone` reads `clock` (today or
    tomorrow; across a DST change the offset of that day applies)."""
    today = datetime.fromtimestamp(now / 1000, zone).date()
    moment = _wall_clock_ms(today, clock, zone)
    return moment if moment > now else _wall_clock_ms(today + timedelta(days=1), clock, zone)


def _wall_clock_ms(day: date, clock: time, zone: tzinfo | None) -> int:
    naive = datetime.combine(day, clock)
    aware = naive.replace(tzinfo=zone) if zone is not None else naive.astimezone()
    return round(aware.timestamp() * 1000)
