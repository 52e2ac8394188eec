"""`queuectl tui`: a full-screen Textual UI over the same store and core functions as the CLI.

Textual is an optional extra (`pip install 'queuectl[tui]'`); nothing here is imported by any
other command. The package never imports queuectl.cli: it calls core/, spec.py, settings.py,
detach.py and the store's verbs, as the CLI does.
"""

import sys

INSTALL_HINT = "the terminal UI needs Textual: pip install 'queuectl[tui]'"


def run(location: str) -> int:
    """Open the store (its errors come out as one line, before the screen is taken over),
    then run the app until `q`. Returns the exit code."""
    import asyncio

    from ..errors import QueuectlError

    try:
        import textual  # noqa: F401
    except ImportError:
        raise QueuectlError(INSTALL_HINT) from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise QueuectlError("queuectl tui needs a terminal on stdin and stdout")
    return asyncio.run(_main(location))


async def _main(location: str) -> int:
    from ..store import open_store
    from .app import QueueApp

    store = await open_store(location)
    try:
        await QueueApp(store, location).run_async()
    finally:
        await store.close()
    return 0
