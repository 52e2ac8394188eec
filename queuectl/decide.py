"""Pure: what a finished attempt means for its job."""

from .backoff import retry_delay
from .jobs import JobState, RunResult, Transition


def decide(
    *, attempts: int, max_retries: int, result: RunResult, base: float, cap: float, now: int,
    cancelled: bool = False,
) -> Transition:
    """`attempts` counts the attempt that just ended (the n-th failure waits base ** n).
    A cancelled attempt (`queuectl cancel`) is never retried by itself."""
    if result.ok:
        return Transition(JobState.COMPLETED, None)
    if cancelled or attempts > max_retries:
        return Transition(JobState.DEAD, None)
    delay_ms = round(retry_delay(attempts, base=base, cap=cap) * 1000)
    return Transition(JobState.FAILED, now + delay_ms)
