import math

import pytest

from queuectl.durations import format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("0", 0), ("90", 90), ("1.5", 1.5), (" 7 ", 7), (".5", 0.5),
    ("500ms", 0.5), ("90s", 90), ("5m", 300), ("2h", 7200), ("7d", 604_800),
    ("1h30m", 5400), ("1d2h3m4s", 93_784), ("1m500ms", 60.5), ("1.5h", 5400), ("2H", 7200),
    ("1h 30m", 5400),
])
def test_accepted_forms(text, seconds):
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("text", [
    "", "  ", "-5", "-1m", "5x", "m", "5 minutes", "30m1h", "5m5m", "1h-30m", "nan", "inf",
    "1e400", "h1", "1.2.3s", "5mm",
])
def test_rejected_forms(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (0.5, "0.5s"), (42, "42s"), (300, "5m"), (5400, "1h30m"), (93_784, "1d2h"),
])
def test_format(seconds, text):
    assert format_duration(seconds) == text
