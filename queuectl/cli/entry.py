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
        scripted = lean.parse(args)
        if scripted is not None:  # the hot commands skip typer's import
            return lean.run(*scripted)
        return _run_typer(args)
    except QueuectlError as exc:
        return _fail(str(exc), exc.exit_code, debug)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except Exception as exc:  # noqa: BLE001 - see _unexpected
        return _unexpected(exc, debug)


def _run_typer(args: list[str]) -> int:
    from typer import main as typer_main

    from .app import build_app

    command = typer_main.get_command(build_app())
    result = command.main(args=args, prog_name="queuectl", standalone_mode=False)
    return result if isinstance(result, int) else 0


def _unexpected(exc: BaseException, debug: bool) -> int:
    """Click usage errors carry their own exit code (2); anything else is one line, exit 1."""
    from ..errors import QueuectlError
    from .app import ClickException

    leaf = _first_leaf(exc)
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


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
