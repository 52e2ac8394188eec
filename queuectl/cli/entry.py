"""Console entry point: dispatch, and turn every failure into one `error:` line + exit code."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("QUEUECTL_DEBUG"))
    sys.exit(_run(args, debug))


def _run(args: list[str], debug: bool) -> int:
    from ..errors import QueuectlError
    from . import lean

    try:
        scripted = lean.parse(args)  # the hot commands skip typer's import
        code = lean.run(*scripted) if scripted is not None else _run_typer(args)
        if sys.stdout is not None:  # flushed here, not at exit: an EPIPE now is still ours
            sys.stdout.flush()
        return code
    except QueuectlError as exc:
        return _fail(str(exc), exc.exit_code, debug)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:  # noqa: BLE001 - see _unexpected
        return _unexpected(exc, debug)


def _run_typer(args: list[str]) -> int:
    from typer import main as typer_main

    from .app import build_app

    command = typer_main.get_command(build_app())
    try:
        result = command.main(args=args, prog_name="queuectl", standalone_mode=False)
    except SystemExit as exc:
        if isinstance(exc.__context__, BrokenPipeError):  # click's EPIPE handler exits 1
            return _reader_gone()
        raise
    return result if isinstance(result, int) else 0


def _unexpected(exc: BaseException, debug: bool) -> int:
    """Click usage errors carry their own exit code (2); anything else is one line, exit 1."""
    from ..errors import QueuectlError
    from .app import ClickException

    leaf = _first_leaf(exc)
    if isinstance(leaf, BrokenPipeError):  # raised inside an event loop or a task group
        return _reader_gone()
    if isinstance(leaf, QueuectlError):
        return _fail(str(leaf), leaf.exit_code, debug)
    if isinstance(leaf, ClickException):
        message = leaf.format_message()
        if not message.strip():  # "no arguments": the help was shown already
            return leaf.exit_code
        return _fail(message, leaf.exit_code, debug)
    return _fail(f"unexpected {type(leaf).__name__}: {leaf}", 1, debug)


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    lines = message.strip().splitlines()
    sys.stderr.write(f"error: {lines[0] if lines else 'failed'}\n")
    return code


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _reader_gone() -> int:
    """stdout's reader has gone (`queuectl list | head -1`): a normal end, exit 0 (see
    DECISIONS.md). Point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
