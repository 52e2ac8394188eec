"""The header `logs --all` prints above each attempt."""

import pytest

from queuectl.cli.logs_core import header
from queuectl.jobs import Attempt


@pytest.mark.parametrize(("exit_code", "error", "duration", "text"), [
    (0, None, 0.0061, "--- attempt 2 (exit 0, 0.006s) ---"),
    (3, "exit code 3", 1.5, "--- attempt 2 (exit 3, 1.500s) ---"),  # no restated exit code
    (None, "timed out after 2s", 2.003, "--- attempt 2 (no exit code, timed out after 2s, 2.003s) ---"),
    (137, "killed by signal 9 (SIGKILL)", 90,
     "--- attempt 2 (exit 137, killed by signal 9 (SIGKILL), 1m30s) ---"),
    (None, "worker lost", None, "--- attempt 2 (no exit code, worker lost) ---"),
])
def test_header(exit_code, error, duration, text):
    assert header(Attempt(2, "w", 0, 1, exit_code, error, duration)) == text
