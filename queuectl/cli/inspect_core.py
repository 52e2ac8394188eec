"""`list` and `status` behind both front doors (typer and the lean dispatcher): typer-free."""

import sys

from ..errors import UsageError
from .context import run_reading
from .output import JobListPrinter, print_json, print_table


def list_jobs(*, db: str | None, state: str | None = None, limit: int | None = None,
              json_out: bool = False, batch: str | None = None) -> None:
    from ..jobs import STATES, JobState

    if state is not None and state not in STATES:
        raise UsageError(f"unknown state {state!r} (valid: {', '.join(STATES)})")
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")

    async def stream(store) -> int:
        printer = JobListPrinter(json_out=json_out)
        async for job in store.iter_jobs(state=state and JobState(state), limit=limit,
                                         batch=batch):
            printer.add(job)
        return printer.finish()

    if not run_reading(db, stream) and not json_out:
        sys.stderr.write("no jobs\n")


def status(*, db: str | None, json_out: bool = False) -> None:
    from ..core.reading import status_document
    from ..timeutil import now_ms

    document = run_reading(db, lambda store: status_document(store, now=now_ms()))
    if json_out:
        print_json(document)
    else:
        _print_status(document)


def _print_status(doc: dict) -> None:
    from .output import paint

    print_table(["STATE", "JOBS"], [[s, n] for s, n in doc["jobs"].items()], state_column=0)
    m = doc["metrics"]
    mean = "-" if m["mean_duration"] is None else f"{m['mean_duration']:.3f}s"
    p95 = "-" if m["p95_duration"] is None else f"{m['p95_duration']:.3f}s"
    sys.stdout.write(
        f"\nDLQ: {paint(str(doc['dlq']), 'dead' if doc['dlq'] else '')}   "
        f"workers: {_count(len(doc['workers']), 'process', 'processes')}, "
        f"{_count(doc['slots'], 'slot', 'slots')}, {doc['running']} running\n"
        f"last minute: {m['completed_last_minute']} completed, {m['failed_last_minute']} failed   "
        f"last hour: {m['completed_last_hour']} completed, {m['failed_last_hour']} failed\n"
        f"duration (last hour): mean {mean}, p95 {p95}\n"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def list_queues(*, db: str | None, json_out: bool = False) -> None:
    """`queue list`: every queue that has jobs or settings (the store's kept counts)."""
    from ..render import queue_dict

    queues = [queue_dict(q) for q in run_reading(db, lambda store: store.list_queues())]
    if json_out:
        print_json(queues)
    elif queues:
        print_table(["QUEUE", "PAUSED", "LIMIT", "PENDING", "PROCESSING", "COMPLETED", "FAILED",
                     "DEAD"],
                    [[q["name"], "yes" if q["paused"] else "no", q["limit"] or "-",
                      *(q["jobs"][s] for s in ("pending", "processing", "completed", "failed",
                                               "dead"))] for q in queues])
    else:
        sys.stderr.write("no queues yet\n")
