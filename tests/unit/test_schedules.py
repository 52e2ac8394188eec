"""Cron arithmetic (queuectl/schedules.py): validation, next runs, DST in Europe/Berlin."""

import re
from zoneinfo import ZoneInfo

import pytest

from queuectl import schedules
from queuectl.errors import UsageError
from queuectl.timeutil import format_ms, parse_iso

BERLIN = ZoneInfo("Europe/Berlin")


def runs(expr: str, zone: ZoneInfo, start: str, n: int) -> list[str]:
    out, at = [], parse_iso(start)
    for _ in range(n):
        at = schedules.next_after(expr, zone, at)
        out.append(format_ms(at))
    return out


@pytest.mark.parametrize(("alias", "first"), [
    ("@hourly", "2026-05-06T08:00:00.000Z"),
    ("@daily", "2026-05-07T00:00:00.000Z"),
    ("@weekly", "2026-05-10T00:00:00.000Z"),  # a Sunday
    ("@monthly", "2026-06-01T00:00:00.000Z"),
    ("@yearly", "2027-01-01T00:00:00.000Z"),
])
def test_aliases(alias, first):
    assert runs(alias, ZoneInfo("UTC"), "2026-05-06T07:15:00Z", 1) == [first]


def test_next_run_is_strictly_after_the_moment():
    at = parse_iso("2026-05-06T07:15:00Z")
    assert schedules.next_after("15 7 * * *", ZoneInfo("UTC"), at) == at + 86_400_000
    assert schedules.next_after("15 7 * * *", ZoneInfo("UTC"), at - 1) == at


def test_a_zone_shifts_the_runs():
    assert runs("0 2 * * *", BERLIN, "2026-01-10T12:00:00Z", 1) == ["2026-01-11T01:00:00.000Z"]
    assert runs("0 2 * * *", BERLIN, "2026-07-10T12:00:00Z", 1) == ["2026-07-11T00:00:00.000Z"]


def test_spring_forward_a_run_in_the_skipped_hour_runs_once_at_the_first_valid_minute():
    # 2026-03-29: Berlin jumps from 02:00 CET to 03:00 CEST; 02:30 does not exist that night
    assert runs("30 2 * * *", BERLIN, "2026-03-28T12:00:00Z", 3) == [
        "2026-03-29T01:00:00.000Z",  # 03:00 CEST
        "2026-03-30T00:30:00.000Z",  # 02:30 CEST
        "2026-03-31T00:30:00.000Z",
    ]


def test_fall_back_a_run_in_the_repeated_hour_runs_once():
    # 2026-10-25: Berlin goes from 03:00 CEST back to 02:00 CET; 02:30 happens twice
    assert runs("30 2 * * *", BERLIN, "2026-10-24T12:00:00Z", 3) == [
        "2026-10-25T00:30:00.000Z",  # the first 02:30 (CEST) only
        "2026-10-26T01:30:00.000Z",  # 02:30 CET
        "2026-10-27T01:30:00.000Z",
    ]


def test_hourly_runs_follow_real_time_across_the_change():
    assert runs("0 * * * *", BERLIN, "2026-03-28T23:30:00Z", 4) == [
        "2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z",
        "2026-03-29T02:00:00.000Z", "2026-03-29T03:00:00.000Z",
    ]


def test_due_gives_only_the_latest_missed_run_and_the_next():
    next_run = parse_iso("2025-01-01T00:00:00Z")  # a year of missed minutes
    now = parse_iso("2026-01-01T10:00:30.500Z")
    due = schedules.due("* * * * *", "UTC", next_run=next_run, now=now)
    assert (format_ms(due.run_at), format_ms(due.next_run)) == (
        "2026-01-01T10:00:00.000Z", "2026-01-01T10:01:00.000Z")


def test_due_at_exactly_the_run_time_and_before_it():
    at = parse_iso("2026-01-01T02:00:00Z")
    assert schedules.due("0 2 * * *", "UTC", next_run=at, now=at - 1) is None
    due = schedules.due("0 2 * * *", "UTC", next_run=at, now=at)
    assert (due.run_at, due.next_run) == (at, at + 86_400_000)


def test_due_across_spring_forward_keeps_the_shifted_run():
    next_run = parse_iso("2026-03-29T01:00:00Z")  # 02:30 Berlin moved to 03:00 CEST
    due = schedules.due("30 2 * * *", "Europe/Berlin", next_run=next_run,
                        now=parse_iso("2026-03-29T01:00:05Z"))
    assert (format_ms(due.run_at), format_ms(due.next_run)) == (
        "2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z")


def test_validate_normalises_spacing_and_gives_the_first_run():
    expr, first = schedules.validate("  0  2 * * * ", "Europe/Berlin",
                                     now=parse_iso("2026-01-10T12:00:00Z"))
    assert (expr, format_ms(first)) == ("0 2 * * *", "2026-01-11T01:00:00.000Z")


@pytest.mark.parametrize(("expr", "zone", "message"), [
    ("61 * * * *", "UTC", "bad cron expression '61 * * * *': bad minute"),
    ("* * * *", "UTC", "expected 5 fields"),
    ("0 * * * * *", "UTC", "got 6"),  # cronsim would take seconds; the contract says five
    ("@often", "UTC", "or one of @hourly"),
    ("0 0 31 2 *", "UTC", "bad day-of-month"),
    ("0 2 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("0 2 * * *", "../etc/passwd", "unknown time zone"),
    ("0 2 * * *", "", "unknown time zone"),
])
def test_bad_expressions_and_zones_are_usage_errors(expr, zone, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        schedules.validate(expr, zone, now=0)
