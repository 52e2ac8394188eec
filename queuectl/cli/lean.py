"""The lean front door: the commands users script in loops, parsed without typer.

typer 0.29 imports pydantic and costs 60-100 ms before a command runs; for `enqueue`,
`status`, `list` and `queue list` that is most of the time a user waits, and for `worker start` most of
its start-up. This parser accepts a strict subset of their typer forms (the flags of the
one table in flags.py, each given at most once as `FLAG VALUE`) and calls the same core
functions; any other argument list returns None and goes to typer, so the two doors cannot
disagree.
"""

import os
from typing import Any

from .flags import FLAGS, INT, MANY, SWITCH, Flag

POSITIONAL = {"enqueue": "job"}
TWO_WORDS = (["worker", "start"], ["queue", "list"])
COMPLETE_VAR = "_QUEUECTL_COMPLETE"  # set by the shell completion scripts: typer answers


def _int(text: str) -> int:
    """Python's int() also takes '٣' and other digits; typer's validation does not."""
    if not text.isascii():
        raise ValueError(text)
    return int(text)


BY_FORM: dict[str, dict[str, Flag]] = {
    command: {form: f for f in flags for form in f.forms} for command, flags in FLAGS.items()
}


def parse(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    if COMPLETE_VAR in os.environ:
        return None
    db, rest = _global_db(list(args))
    if rest[:2] in TWO_WORDS:
        rest = [" ".join(rest[:2]), *rest[2:]]
    if not rest or rest[0] not in BY_FORM:
        return None
    command, words = rest[0], iter(rest[1:])
    found: dict[str, Any] = {}
    for word in words:
        parsed = _one(command, word, words)
        if parsed is None:
            return None
        name, value = parsed
        if isinstance(value, list):  # a repeatable flag: its values add up
            found[name] = found.get(name, []) + value
        elif name in found:
            return None  # given twice: typer decides what that means
        else:
            found[name] = value
    return command, found | {"db": db}


def _global_db(rest: list[str]) -> tuple[str | None, list[str]]:
    if rest[:1] == ["--db"] and len(rest) > 1:
        return rest[1], rest[2:]
    if rest and rest[0].startswith("--db="):
        return rest[0][len("--db="):], rest[1:]
    return None, rest


def _one(command: str, word: str, words) -> tuple[str, Any] | None:
    spec = BY_FORM[command].get(word)
    if spec is not None:
        if spec.kind == SWITCH:
            return spec.name, True
        value = next(words, None)
        if value is None:
            return None
        if spec.kind == MANY:  # repeatable: parse() adds the values up, in order
            return spec.name, [value]
        try:
            return spec.name, _int(value) if spec.kind == INT else value
        except ValueError:
            return None  # typer words the error
    if not word.startswith("-") and command in POSITIONAL:
        return POSITIONAL[command], word
    return None


def run(command: str, found: dict[str, Any]) -> int:
    """Run a parsed command with the same core function typer calls; returns its exit code."""
    if command == "enqueue":  # imports only what an insert needs: no asyncio
        from .enqueue_core import enqueue as core
    elif command == "worker start":
        from .worker_core import start_worker as core
    elif command == "status":
        from .inspect_core import status as core
    elif command == "queue list":
        from .inspect_core import list_queues as core
    else:
        from .inspect_core import list_jobs as core
    return core(**found) or 0
