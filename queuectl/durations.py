"""Durations as users type them: `90`, `1.5`, `500ms`, `90s`, `5m`, `2h`, `7d`, `1h30m`.

One parser for every flag and config key that takes seconds, so `--delay 5m`, `--timeout 1h30m`
and `config set backoff-max 2h` agree. A bare number is seconds (the Part 1 contract)."""

import math
import re

UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h|d)")
_UNITS_IN_ORDER = ("d", "h", "m", "s", "ms")  # `1h30m`, never `30m1h` or `5m5m`


def parse_duration(text: str) -> float:
    """Seconds in `text`; ValueError with a short reason when it is not a duration >= 0."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    try:
        seconds = float(compact)
    except ValueError:
        seconds = _sum_of_parts(compact)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"not a duration >= 0: {text!r}")
    return seconds


def _sum_of_parts(compact: str) -> float:
    position, total, last_rank = 0, 0.0, -1
    for match in _PART.finditer(compact):
        rank = _UNITS_IN_ORDER.index(match.group(2))
        if match.start() != position or rank <= last_rank:
            break
        total += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
        position, last_rank = match.end(), rank
    if position != len(compact) or position == 0:
        raise ValueError(f"not a duration (use seconds or e.g. 500ms, 90s, 5m, 2h, 7d, 1h30m): "
                         f"{compact!r}")
    return total


def format_duration(seconds: float) -> str:
    """The short human form: 0.5s, 42s, 5m, 1h30m, 2d3h (rounded to what matters)."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{round(seconds)}s"
    parts, rest = [], round(seconds)
    for unit in ("d", "h", "m", "s"):
        count, rest = divmod(rest, int(UNIT_SECONDS[unit]))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2])
