"""The overview's chart: attempts per minute over the last hour, as inline SVG geometry (pure).

Stacked bars, completed under failed, on a y scale rounded up to 1, 2 or 5 x 10^k; the template
draws them as <rect> elements, so the page needs no chart library."""

from collections.abc import Sequence
from typing import NamedTuple

from ..jobs import MinuteStats

WIDTH, HEIGHT = 600, 160
TOP, BOTTOM, LEFT = 8, 20, 34  # room for the y labels and the time axis


class Bar(NamedTuple):
    x: float
    y: float
    width: float
    height: float
    kind: str  # "completed" or "failed"
    title: str


class Chart(NamedTuple):
    width: int
    height: int
    bars: list[Bar]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_labels: list[tuple[float, str, str]]  # (x, text, text-anchor)
    baseline: float
    total_completed: int
    total_failed: int


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 x 10^k at least `value` (and at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def build(minutes: Sequence[MinuteStats]) -> Chart:
    top = nice_ceiling(max((m.completed + m.failed for m in minutes), default=0))
    plot_h, plot_w = HEIGHT - TOP - BOTTOM, WIDTH - LEFT
    slot = plot_w / max(len(minutes), 1)
    scale = plot_h / top
    baseline = TOP + plot_h
    bars = []
    for i, m in enumerate(minutes):
        x = LEFT + i * slot + slot * 0.1
        ago = len(minutes) - 1 - i
        when = "this minute" if ago == 0 else f"{ago} min ago"
        done_h, failed_h = m.completed * scale, m.failed * scale
        if m.completed:
            bars.append(Bar(x, baseline - done_h, slot * 0.8, done_h, "completed",
                            f"{when}: {m.completed} completed"))
        if m.failed:
            bars.append(Bar(x, baseline - done_h - failed_h, slot * 0.8, failed_h, "failed",
                            f"{when}: {m.failed} failed"))
    ticks = [(baseline - v * scale, v) for v in sorted({0, top // 2, top})]
    labels = _x_labels(len(minutes), slot)
    return Chart(WIDTH, HEIGHT, bars, ticks, labels, baseline,
                 sum(m.completed for m in minutes), sum(m.failed for m in minutes))


def _x_labels(count: int, slot: float) -> list[tuple[float, str, str]]:
    """Oldest at the left edge, the middle, now at the right edge."""
    if not count:
        return []
    return [(LEFT, f"-{count} min", "start"),
            (LEFT + (count // 2) * slot, f"-{count - count // 2} min", "middle"),
            (WIDTH, "now", "end")]
