"""backoff.py and decide.py: pure retry arithmetic."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.backoff import retry_delay
from queuectl.decide import decide
from queuectl.jobs import JobState, RunResult

NOW = 1_800_000_000_000
OK = RunResult(0, None, NOW - 10, NOW, 0.01)
FAILED = RunResult(1, "exit code 1", NOW - 10, NOW, 0.01)


@pytest.mark.parametrize(("n", "wait"), [(1, 2.0), (2, 4.0), (3, 8.0), (10, 1024.0)])
def test_base_two_doubles(n, wait):
    assert retry_delay(n, base=2, cap=3600) == wait


def test_capped_at_backoff_max():
    assert retry_delay(12, base=2, cap=3600) == 3600.0


@pytest.mark.parametrize("n", [1_000, 10**6, 10**18])
def test_huge_attempt_counts_never_overflow(n):
    assert retry_delay(n, base=2, cap=3600) == 3600.0
    assert retry_delay(n, base=1.5, cap=0.25) == 0.25


def test_base_one_waits_one_second():
    assert retry_delay(10**9, base=1, cap=3600) == 1.0


def test_no_failures_no_wait():
    assert retry_delay(0, base=2, cap=3600) == 0.0


def test_zero_cap_means_no_wait():
    assert retry_delay(5, base=2, cap=0) == 0.0


@given(st.integers(1, 10**12), st.floats(1, 1000), st.floats(0.001, 1e7))
def test_delay_is_between_zero_and_cap(n, base, cap):
    delay = retry_delay(n, base=base, cap=cap)
    assert 0 <= delay <= cap


def decide_for(attempts, result=FAILED, max_retries=3, base=2.0, cap=3600.0):
    return decide(attempts=attempts, max_retries=max_retries, result=result, base=base, cap=cap,
                  now=NOW)


def test_success_completes():
    transition = decide_for(1, OK)
    assert transition.state == JobState.COMPLETED and transition.run_at is None


def test_success_on_last_attempt_completes():
    assert decide_for(4, OK).state == JobState.COMPLETED


@pytest.mark.parametrize(("attempts", "wait_ms"), [(1, 2000), (2, 4000), (3, 8000)])
def test_failure_waits_base_to_the_n(attempts, wait_ms):
    transition = decide_for(attempts)
    assert transition.state == JobState.FAILED and transition.run_at == NOW + wait_ms


def test_failure_beyond_max_retries_is_dead():
    transition = decide_for(4)
    assert transition.state == JobState.DEAD and transition.run_at is None


def test_max_retries_zero_dies_on_first_failure():
    assert decide_for(1, max_retries=0).state == JobState.DEAD


def test_retry_wait_is_capped():
    assert decide_for(3, cap=5).run_at == NOW + 5000


def test_timeout_is_a_failure():
    timed_out = RunResult(None, "timed out after 1s", NOW - 1000, NOW, 1.0)
    assert decide_for(1, timed_out).state == JobState.FAILED
