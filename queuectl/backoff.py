"""Retry delays: pure arithmetic, no I/O."""

import math


def retry_delay(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after the `failures`-th failed attempt: min(base ** failures, cap).

    Compared in log space first so that a large attempt count can never overflow a float.
    """
    if failures < 1 or cap <= 0:
        return 0.0
    if base > 1 and failures * math.log(base) >= math.log(cap):
        return float(cap)
    return float(min(base**failures, cap))
