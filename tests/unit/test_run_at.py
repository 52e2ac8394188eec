"""`--run-at` forms: ISO-8601, a time of day in a zone (its next occurrence), +DURATION."""

from zoneinfo import ZoneInfo

import pytest

from queuectl.run_at import parse_run_at
from queuectl.timeutil import format_ms, parse_iso

BERLIN = ZoneInfo("Europe/Berlin")  # UTC+1 in winter, +2 in summer
NOW = parse_iso("2026-12-03T09:00:00Z")  # 10:00 in Berlin


def at(text: str, *, now: int = NOW, zone=BERLIN) -> str:
    return format_ms(parse_run_at(text, now=now, zone=zone))


@pytest.mark.parametrize(("text", "expected"), [
    ("23:30", "2026-12-03T22:30:00.000Z"),  # later today
    ("11:30pm", "2026-12-03T22:30:00.000Z"),
    ("11:30 PM", "2026-12-03T22:30:00.000Z"),
    ("11:30 p.m.", "2026-12-03T22:30:00.000Z"),
    ("11pm", "2026-12-03T22:00:00.000Z"),
    ("9:15", "2026-12-04T08:15:00.000Z"),  # passed today: tomorrow
    ("10:00", "2026-12-04T09:00:00.000Z"),  # exactly now is not "next": tomorrow
    ("10:00:01", "2026-12-03T09:00:01.000Z"),
    ("12am", "2026-12-03T23:00:00.000Z"),  # midnight
    ("12:30pm", "2026-12-03T11:30:00.000Z"),  # half past noon
    ("00:05", "2026-12-03T23:05:00.000Z"),
])
def test_a_time_of_day_is_its_next_occurrence_in_the_zone(text, expected):
    assert at(text) == expected


def test_the_zone_decides_the_instant():
    assert at("23:30", zone=ZoneInfo("UTC")) == "2026-12-03T23:30:00.000Z"
    assert at("23:30", zone=ZoneInfo("Asia/Kolkata")) == "2026-12-03T18:00:00.000Z"


def test_across_a_dst_change_the_offset_of_that_day_applies():
    before_spring = parse_iso("2026-03-28T22:00:00Z")  # 23:00 CET; DST starts overnight
    assert at("08:00", now=before_spring) == "2026-03-29T06:00:00.000Z"  # 08:00 CEST


@pytest.mark.parametrize(("text", "seconds"), [
    ("+15m", 900), ("+1h30m", 5400), ("+90", 90), ("now+15m", 900), ("now + 2h", 7200),
    ("now", 0), ("+500ms", 0.5),
])
def test_plus_a_duration_is_from_now(text, seconds):
    assert parse_run_at(text, now=NOW, zone=BERLIN) == NOW + round(seconds * 1000)


def test_iso_8601_is_taken_as_it_is():
    assert at("2026-12-24T18:00:00+01:00") == "2026-12-24T17:00:00.000Z"


@pytest.mark.parametrize(("text", "reason"), [
    ("soon", "not a time"), ("23", "not a time"), ("25:00", "time of day"),
    ("13pm", "1 to 12"), ("0am", "1 to 12"), ("12:60", "time of day"),
    ("2026-12-24T18:00", "offset"), ("+", "empty"), ("+5x", "duration"), ("+-5m", "duration"),
    ("+4000d", "ten years"), ("now 5m", "not a time"),
])
def test_everything_else_is_refused_with_a_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_run_at(text, now=NOW, zone=BERLIN)


def test_without_a_zone_the_local_one_is_used(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert format_ms(parse_run_at("23:30", now=NOW)) == "2026-12-03T18:00:00.000Z"
    finally:
        monkeypatch.undo()
        time.tzset()
