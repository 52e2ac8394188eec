"""Pure: what a finished attempt means for its job."""

from .backoff import retry_delay
from .jobs import JobState, RunResult, Transition


def decide(
    *, attempts: int, max_retries: int, result: RunResult, base: float, cap: float, now: int
) -> Transition:
    """`attempts` counts the attempt that just ended (the n-th failure waits base ** n)."""
    if result.ok:
        return Transition(JobState.COMPLETED, None)
    if attempts > max_retries:
        return Transition(JobState.DEAD, None)
    delay_ms = round(retry_delay(attempts, base=base, cap=cap) * 1000)
    return Transition(JobState.FAILED, now + delay_ms)
