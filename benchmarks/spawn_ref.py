"""P1's reference: queuectl's own spawn code with no queue around it.

`python -m benchmarks.spawn_ref N C CMD` runs CMD N times through queuectl.runner.run_command,
C at a time under an asyncio.Semaphore, in one process with the same event loop, child watcher
and pipes as `queuectl worker start` (the worker's child-watcher choice is applied when the engine
offers one). It is timed from spawn to exit by the caller, exactly like the worker, so both
figures include interpreter start-up and only the queue makes the difference.
"""

import asyncio
import sys


def _same_child_watcher() -> str:
    from queuectl import engine

    prefer = getattr(engine, "prefer_pidfd_child_watcher", None)
    if prefer is not None:
        prefer()
    return type(asyncio.get_event_loop_policy().get_child_watcher()).__name__


async def _main(n: int, concurrency: int, command: str) -> int:
    from queuectl.runner import run_command

    gate = asyncio.Semaphore(concurrency)
    failures = 0

    async def one() -> None:
        nonlocal failures
        async with gate:
            result = await run_command(command, timeout=None, output_limit=1_048_576,
                                       kill_grace=2.0)
            failures += not result.ok

    await asyncio.gather(*(one() for _ in range(n)))
    return failures


def main() -> None:
    n, concurrency, command = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers are deprecated in 3.12
        watcher = _same_child_watcher()
    failures = asyncio.run(_main(n, concurrency, command))
    sys.stderr.write(f"child watcher: {watcher}\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
