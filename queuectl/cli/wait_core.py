"""`queuectl wait` and `enqueue --wait`: the waiting itself is queuectl/waiting.py; this adds
the progress bar (stderr, on a terminal), the summary line, the JSON document and exit code."""

import sys
from collections.abc import Sequence
from typing import Any

EXIT_DEAD, EXIT_TIMEOUT = 3, 124


def run_wait(db: str | None, *, ids: Sequence[str] = (), batch: str | None = None,
             queue: str | None = None, timeout: float | None = None, json_out: bool) -> int:
    """Wait, report, and return the exit code of the contract (0 / 3 / 124; 1 is raised)."""
    from .context import run_with_store

    async def main(store: Any):
        from ..waiting import select, wait_for

        selection = await select(store, ids=ids, batch=batch, queue=queue)
        with ProgressBar() as bar:
            waited = await wait_for(store, selection, timeout=timeout, on_progress=bar.update)
        return waited, (await selection.jobs(store) if json_out else [])

    waited, jobs = run_with_store(db, main)
    progress = waited.progress
    summary = f"{progress.completed} completed, {progress.dead} dead"
    if waited.timed_out:
        summary += f", {progress.unfinished} unfinished (timed out)"
    sys.stderr.write(summary + "\n")
    if json_out:
        from ..render import job_dict
        from .output import print_json

        print_json({"completed": progress.completed, "dead": progress.dead,
                    "unfinished": progress.unfinished, "jobs": [job_dict(j) for j in jobs]})
    if waited.timed_out:
        return EXIT_TIMEOUT
    return EXIT_DEAD if progress.dead else 0


class ProgressBar:
    """A live bar on stderr when it is a terminal (rich is imported only then)."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> "ProgressBar":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("waiting"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[dead]} dead"), console=Console(stderr=True),
                transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("wait", total=None, dead=0)
        return self

    def update(self, progress) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=progress.total,
                                  completed=progress.completed + progress.dead, dead=progress.dead)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
