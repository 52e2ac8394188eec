"""Pure cron arithmetic: validate an expression and a zone, find runs in that zone.

The cron grammar and its DST rules come from cronsim (the evaluator healthchecks.io runs):
like Debian cron, a job at a fixed time that falls in the hour skipped in spring runs once
at the first valid minute after it, and one in the hour repeated in autumn runs once (its
first occurrence); `*`-hour expressions follow real (UTC) time. Times are epoch ms, as
everywhere inside queuectl. Imported only by `schedule` commands and the scheduler service.
"""

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .errors import UsageError

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")


class Due(NamedTuple):
    run_at: int  # the run to enqueue now: the latest one at or before `now`
    next_run: int | None  # the first run after `now` (None: the expression never fires again)


def cron_fields(expr: str) -> str:
    """The five-field form of EXPR (aliases expanded); exit 2 for anything else."""
    text = " ".join(expr.split())
    fields = ALIASES.get(text.lower(), text)
    count = len(fields.split())
    if count != 5:
        raise UsageError(f"bad cron expression {expr!r}: expected 5 fields "
                         f"({' '.join(_FIELD_NAMES)}) or one of {', '.join(ALIASES)}; "
                         f"got {count}")
    return fields


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(f"unknown time zone {name!r}: use an IANA name such as "
                         "Europe/Berlin or UTC") from None


def validate(expr: str, zone_name: str, *, now: int) -> tuple[str, int]:
    """(expr as given, normalised spacing; its first run after now). Exit 2 if it is bad or
    never fires."""
    tz = zone(zone_name)
    fields = cron_fields(expr)
    try:
        first = next_after(fields, tz, now)
    except CronSimError as exc:
        raise UsageError(f"bad cron expression {expr!r}: {str(exc).lower()}") from None
    if first is None:
        raise UsageError(f"cron expression {expr!r} never fires")
    return " ".join(expr.split()), first


def next_after(expr: str, tz: ZoneInfo, after: int) -> int | None:
    """The first run strictly after `after` (epoch ms), or None if there is none."""
    start = datetime.fromtimestamp(after // 1000, tz)  # runs fall on whole seconds
    try:
        return _ms(next(CronSim(cron_fields(expr), start)))
    except StopIteration:
        return None


def due(expr: str, zone_name: str, *, next_run: int, now: int) -> Due | None:
    """The run to enqueue at `now` for a schedule whose stored next run is `next_run`, and the
    one after it. Runs missed while nobody looked are not replayed: only the latest of them.
    None when `next_run` is still in the future."""
    if next_run > now:
        return None
    tz, fields = ZoneInfo(zone_name), cron_fields(expr)
    run = next_run
    candidate = next_after(fields, tz, _resume_point(fields, tz, next_run, now))
    while candidate is not None and candidate <= now:  # at most a few steps from the resume point
        run = max(run, candidate)
        candidate = next_after(fields, tz, candidate)
    return Due(run, candidate)


def _resume_point(fields: str, tz: ZoneInfo, next_run: int, now: int) -> int:
    """Where to start walking forward: two runs before `now` (found backwards, so a year of
    missed minutes costs two steps, not half a million), never before `next_run`. Two, because
    cronsim's backward and forward walks may place a run in a DST gap differently."""
    # cronsim's backward walk yields runs before the start's whole second: start 1 ms after
    # `now` so that a run at `now` itself is included
    moment = datetime.fromtimestamp(now // 1000, UTC).astimezone(tz) + timedelta(
        milliseconds=now % 1000 + 1)
    walk = CronSim(fields, moment, reverse=True)
    try:
        next(walk)
        second = _ms(next(walk))
    except StopIteration:
        return next_run - 1
    return max(next_run - 1, second - 1000)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000
