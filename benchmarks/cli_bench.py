"""P4 (bulk enqueue through the CLI) and P5 (one-shot enqueue start-up)."""

from __future__ import annotations

import subprocess

from .common import (
    PYTHON,
    QUEUECTL,
    BenchError,
    Row,
    cli_env,
    count_states,
    create_store,
    median,
    say,
    scratch,
    timed_run,
)


def p4(quick: bool) -> Row:
    """100,000 jobs as JSON Lines on stdin of `queuectl enqueue --file -`, start-up included."""
    n = 20_000 if quick else 100_000
    lines = "".join(f'{{"command":"echo {i}"}}\n' for i in range(n)).encode()
    with scratch("p4") as tmp:
        db = tmp / "q.db"
        create_store(db).close()  # an existing, empty store: P4 measures enqueue, not creation
        say(f"P4: {n} JSON Lines through `queuectl enqueue --file -` ...")
        seconds = timed_run([QUEUECTL, "enqueue", "--file", "-"], input=lines,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=cli_env(db, tmp), cwd=tmp)
        counts = count_states(db)
    if counts.get("pending") != n:
        raise BenchError(f"P4: expected {n} pending jobs, store has {counts}")
    return Row("P4", f"{n} jobs as JSON Lines via enqueue --file -", "jobs/s", n / seconds, None,
               100_000, goal_on="queuectl", reference_label="-",
               detail={"n": n, "elapsed_s": seconds})


def p5(quick: bool) -> Row:
    """One `queuectl enqueue '{"command":"true"}'`, median of 20, vs `python3 -c pass`."""
    runs = 10 if quick else 20
    with scratch("p5") as tmp:
        db = tmp / "q.db"
        env = cli_env(db, tmp)
        argv = [QUEUECTL, "enqueue", '{"command":"true"}']
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "env": env, "cwd": tmp}
        say(f"P5: one-shot enqueue vs python3 -c pass, median of {runs} ...")
        for _ in range(2):  # warm-up: creates the store, fills the page cache
            timed_run(argv, **quiet)
            timed_run([PYTHON, "-c", "pass"], **quiet)
        ours, ref = [], []
        for _ in range(runs):  # interleaved so that background load hits both alike
            ours.append(timed_run(argv, **quiet) * 1000)
            ref.append(timed_run([PYTHON, "-c", "pass"], **quiet) * 1000)
    return Row("P5", "one queuectl enqueue '{\"command\":\"true\"}'", "ms", median(ours),
               median(ref), 7, goal_op="<=", reference_label="python3 -c pass",
               detail={"runs": runs, "queuectl_min_ms": min(ours), "reference_min_ms": min(ref)})


BENCHMARKS = {"P4": p4, "P5": p5}
