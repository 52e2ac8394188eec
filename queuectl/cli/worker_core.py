"""`queuectl worker start` behind both front doors (typer and the lean dispatcher): typer-free,
so a worker starts without typer's import (~0.2 s here, most of a worker's start-up)."""

from ..core.reading import load_settings
from ..errors import UsageError
from .context import run_with_store


def start_worker(*, db: str | None, count: int | None = None, drain: bool = False,
                 queue: str | None = None, detach: bool = False,
                 log_file: str | None = None) -> int:
    """Run an engine in the foreground until stopped or drained; returns the exit code.
    `queue`: the --queue value (A,B,...), None for every queue. With detach, start it in the
    background instead (queuectl/detach.py) and return 0 once it is registered."""
    from ..settings import MAX_CONCURRENCY
    from ..spec import queue_names

    if log_file is not None and not detach:
        raise UsageError("--log-file goes with --detach (a foreground worker logs on stderr)")
    if detach:
        return _start_detached(db, count, drain, queue, log_file)
    if count is not None and not 1 <= count <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}, got {count}")
    queues = None if queue is None else queue_names(queue, "--queue")
    from ..engine import prefer_pidfd_child_watcher

    prefer_pidfd_child_watcher()
    return run_with_store(db, lambda store: _run_engine(store, count, drain, queues))


async def _run_engine(store, count: int | None, drain: bool, queues: list[str] | None) -> int:
    import asyncio
    import signal

    from ..engine import Engine

    settings = await load_settings(store)
    concurrency = count or settings.worker_count
    notes = fit_limits(concurrency)  # exit 2 here, before anything is claimed, if they cannot
    engine = Engine(store, settings=settings, concurrency=concurrency, drain=drain,
                    queues=queues)
    for note in notes:
        engine.log(note)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, engine.on_signal, signum)
    try:
        return await engine.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _start_detached(db: str | None, count: int | None, drain: bool, queue: str | None,
                    log_file: str | None) -> int:
    import sys

    from ..detach import start_detached
    from ..store import resolve

    location = resolve(db)
    started = run_with_store(location, lambda store: start_detached(
        store, location, count=count, drain=drain, queue=queue, log_file=log_file))
    sys.stdout.write(f"worker {started.worker_id} started in the background: "
                     f"pid {started.pid}, log {started.log_path}\n")
    return 0


def fit_limits(concurrency: int) -> list[str]:
    """Raise the soft descriptor and process limits to what `concurrency` slots need."""
    from ..limits import fit_open_files, fit_processes

    return [note for note in (fit_open_files(concurrency), fit_processes(concurrency)) if note]
