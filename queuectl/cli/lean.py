"""The lean front door: the commands users script in loops, parsed without typer.

typer 0.29 imports pydantic and costs 60-100 ms before a command runs; for `enqueue`,
`status` and `list` that is most of the time a user waits, and for `worker start` most of
its start-up. This parser accepts a strict subset
of their typer forms (long flags, each at most once) and calls the same core functions; any
other argument list returns None and goes to typer, so the two doors cannot disagree.
"""

from collections.abc import Callable
from typing import Any


def _int(text: str) -> int:
    """Python's int() also takes '٣' and other digits; typer's validation does not."""
    if not text.isascii():
        raise ValueError(text)
    return int(text)


# command -> {flag: value parser, or None for a boolean flag}
FLAGS: dict[str, dict[str, Callable[[str], Any] | None]] = {
    "enqueue": {"--file": str, "-f": str, "--json": None, "--queue": str, "--batch": str,
                "--cwd": str, "--unique-key": str},
    "status": {"--json": None},
    "list": {"--state": str, "--limit": _int, "--json": None},
    "worker start": {"--count": _int, "--concurrency": _int, "-c": _int, "--drain": None},
}
POSITIONAL = {"enqueue": "job"}
NAMES = {"--file": "file", "-f": "file", "--json": "json_out", "--state": "state",
         "--limit": "limit", "--count": "count", "--concurrency": "count", "-c": "count",
         "--drain": "drain", "--queue": "queue", "--batch": "batch", "--cwd": "cwd",
         "--unique-key": "unique_key"}
ENQUEUE_OVERRIDES = ("queue", "batch", "cwd", "unique_key")  # flags passed on as job fields


def parse(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    db, rest = _global_db(list(args))
    if rest[:2] == ["worker", "start"]:
        rest = ["worker start", *rest[2:]]
    if not rest or rest[0] not in FLAGS:
        return None
    command, words = rest[0], iter(rest[1:])
    found: dict[str, Any] = {}
    for word in words:
        parsed = _one(command, word, words)
        if parsed is None or parsed[0] in found:
            return None
        found[parsed[0]] = parsed[1]
    return command, found | {"db": db}


def _global_db(rest: list[str]) -> tuple[str | None, list[str]]:
    if rest[:1] == ["--db"] and len(rest) > 1:
        return rest[1], rest[2:]
    if rest and rest[0].startswith("--db="):
        return rest[0][len("--db="):], rest[1:]
    return None, rest


def _one(command: str, word: str, words) -> tuple[str, Any] | None:
    flags = FLAGS[command]
    if word in flags:
        if flags[word] is None:
            return NAMES[word], True
        value = next(words, None)
        try:
            return (NAMES[word], flags[word](value)) if value is not None else None
        except ValueError:
            return None  # typer words the error
    if not word.startswith("-") and command in POSITIONAL:
        return POSITIONAL[command], word
    return None


def run(command: str, found: dict[str, Any]) -> int:
    """Run a parsed command; returns its exit code."""
    json_out = found.pop("json_out", False)
    if command == "enqueue":  # imports only what an insert needs: no asyncio
        from . import enqueue_core

        overrides = {name: found[name] for name in ENQUEUE_OVERRIDES if name in found}
        enqueue_core.enqueue(db=found["db"], job=found.get("job"), file=found.get("file"),
                             overrides=overrides, json_out=json_out)
    elif command == "worker start":
        from .worker_core import start_worker

        return start_worker(db=found["db"], count=found.get("count"),
                            drain=found.get("drain", False))
    elif command == "status":
        from .inspect_core import status

        status(db=found["db"], json_out=json_out)
    else:
        from .inspect_core import list_jobs

        list_jobs(db=found["db"], state=found.get("state"), limit=found.get("limit"),
                  json_out=json_out)
    return 0
