"""Configuration keys: one table drives validation, defaults, `config get/set/list` and help."""

import contextlib
import math
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from .errors import InvalidConfigError

DAY = 86_400
TEN_YEARS = 3650 * DAY  # as far ahead as a job may be scheduled (spec.MAX_SECONDS)


class Key(NamedTuple):
    name: str
    kind: type  # int or float
    default: int | float
    minimum: float
    maximum: float  # beyond it a value overflows a timestamp or a resource long before it helps
    help: str
    seconds: bool = False  # a time: also takes durations (`2h`), stored as seconds


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("max-retries", int, 3, 0, 2**31 - 1,
            "retries after the first attempt, for jobs that set none"),
        Key("backoff-base", float, 2, 1, 1e9, "a failed attempt n waits backoff-base ** n seconds"),
        Key("backoff-max", float, 3600, 0, TEN_YEARS, "the longest wait between attempts, in seconds",
            seconds=True),
        Key("job-timeout", float, 0, 0, TEN_YEARS,
            "seconds an attempt may run when the job sets none; 0 = none", seconds=True),
        Key("worker-count", int, 1, 1, 10_000,
            "concurrent jobs per `worker start` without --concurrency"),
        Key("output-limit", int, 1_048_576, 0, 2**30, "bytes kept per stream per attempt (head + tail)"),
        Key("kill-grace", float, 2, 0, DAY, "seconds between TERM and KILL when a job is stopped",
            seconds=True),
        # 0.25 s keeps `logs --follow` within its 1 s; jobs that end sooner write no piece
        Key("output-interval", float, 0.25, 0, 60,
            "seconds between writes of a running job's new output (logs --follow); 0 = at the end",
            seconds=True),
        # Below 2 s a worker busy for a moment (a fork storm, a slow commit) would look dead to
        # the others, who would kill and rerun its jobs: heartbeats come every lease / 5.
        Key("worker-lease", float, 10, 2, DAY,
            "seconds without a heartbeat before a worker counts as dead", seconds=True),
        # Retention (maintenance/cleaner.py): running workers delete finished jobs this old.
        Key("keep-completed", float, 7 * DAY, 0, TEN_YEARS,
            "seconds a completed job is kept before workers delete it; 0 = forever", seconds=True),
        Key("keep-dead", float, 0, 0, TEN_YEARS,
            "seconds a dead job is kept before workers delete it; 0 = forever", seconds=True),
    )
}
MAX_CONCURRENCY = KEYS["worker-count"].maximum


def canonical_key(name: str) -> str:
    """Accept `max_retries` and `max-retries`; reject anything unknown (exit 2)."""
    key = name.strip().lower().replace("_", "-")
    if key not in KEYS:
        raise InvalidConfigError(f"unknown config key {name!r} (valid: {', '.join(KEYS)})")
    return key


def parse_value(key: str, text: str) -> int | float:
    spec = KEYS[key]
    value = _parse_number(spec, text.strip())
    if not spec.minimum <= value <= spec.maximum:
        raise InvalidConfigError(f"{key} must be between {format_value(spec.minimum)} and "
                                 f"{format_value(spec.maximum)}, got {text!r}")
    return value


def _parse_number(spec: Key, text: str) -> int | float:
    try:
        value = int(text) if spec.kind is int else float(text)
    except ValueError:
        if spec.seconds:
            return _parse_duration(spec, text)
        noun = "a whole number" if spec.kind is int else "a number"
        raise InvalidConfigError(f"{spec.name} must be {noun}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidConfigError(f"{spec.name} must be a finite number, got {text!r}")
    return value


def _parse_duration(spec: Key, text: str) -> float:
    from .durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise InvalidConfigError(f"{spec.name} must be seconds or a duration such as 90s, 5m, "
                                 f"2h, 1h30m, got {text!r}") from None


def validate_setting(key: str, value: str) -> tuple[str, str]:
    """`config set KEY VALUE` (and the TUI's config form) before anything is written: the
    canonical key and the value's stored text, or InvalidConfigError (exit 2)."""
    name = canonical_key(key)
    return name, format_value(parse_value(name, value))


def format_value(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Settings(NamedTuple):
    """Effective configuration: stored values over defaults."""

    max_retries: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    job_timeout: float = 0.0
    worker_count: int = 1
    output_limit: int = 1_048_576
    kill_grace: float = 2.0
    worker_lease: float = 10.0
    keep_completed: float = 7.0 * DAY
    keep_dead: float = 0.0
    output_interval: float = 0.25

    @classmethod
    def from_stored(cls, stored: Mapping[str, str]) -> "Settings":
        """Stored text was validated on `config set`; a hand-edited bad value falls back to default."""
        return cls().overlay(stored, KEYS)

    def overlay(self, stored: Mapping[str, str], keys: Iterable[str]) -> "Settings":
        """These settings with the stored values of `keys` put over them (unset or bad: kept)."""
        values = {}
        for key in keys:
            with contextlib.suppress(KeyError, InvalidConfigError):
                values[key.replace("-", "_")] = parse_value(key, stored[key])
        return self._replace(**values)

    def value(self, key: str) -> int | float:
        return getattr(self, key.replace("-", "_"))

    @property
    def heartbeat_interval(self) -> float:
        """Five heartbeats per lease: one lost write never makes a live worker look dead."""
        return self.worker_lease / 5


