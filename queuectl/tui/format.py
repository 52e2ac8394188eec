"""Cells and lines as the TUI shows them: short, and coloured by state (Textual drops the
colour itself under NO_COLOR or on a monochrome terminal)."""

from rich.text import Text

from ..timeutil import format_ms

STATE_STYLES = {"pending": "yellow", "processing": "cyan", "completed": "green",
                "failed": "magenta", "dead": "bold red"}


def state_cell(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def short_time(ms: int | None) -> str:
    """`12-03 09:35:41` (UTC): the date and second fit an 80-column table."""
    return "-" if ms is None else format_ms(ms)[5:19].replace("T", " ")


def clip(text: str, width: int) -> str:
    text = " ".join(text.split())  # a multi-line command shows on one row
    return text if len(text) <= width else text[: width - 1] + "…"


def dash(value: object) -> str:
    return "-" if value is None else str(value)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
