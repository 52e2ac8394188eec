"""Console entry point: run the typer app and turn every failure into one line + exit code."""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or bool(os.environ.get("QUEUECTL_DEBUG"))
    sys.exit(_run(args, debug))


def _run(args: list[str], debug: bool) -> int:
    from typer import main as typer_main

    from ..errors import QueuectlError
    from .app import ClickException, build_app

    try:
        command = typer_main.get_command(build_app())
        result = command.main(args=args, prog_name="queuectl", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except QueuectlError as exc:
        return _fail(str(exc), exc.exit_code, debug)
    except ClickException as exc:
        return _fail(exc.format_message(), exc.exit_code, debug)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a trace
        leaf = _first_leaf(exc)
        if isinstance(leaf, QueuectlError):
            return _fail(str(leaf), leaf.exit_code, debug)
        return _fail(f"unexpected {type(leaf).__name__}: {leaf}", 1, debug)


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    first_line = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(f"error: {first_line}\n")
    return code


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
