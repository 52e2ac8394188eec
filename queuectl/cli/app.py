"""The root typer app: global options and the command groups."""

import typer

from .. import __version__
from ..store import resolve

try:  # typer >= 0.29 vendors click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer with click installed
    from click.exceptions import ClickException

__all__ = ["ClickException", "build_app"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"queuectl {__version__}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", help="SQLite path or URL (env QUEUECTL_DB)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """queuectl: a durable background job queue for shell commands."""
    from .context import Options

    ctx.obj = Options(db=resolve(db), debug=debug)


def build_app() -> typer.Typer:
    from . import (
        bench_cmd,
        config_cmd,
        dashboard_cmd,
        dlq_cmd,
        jobs_cmd,
        migrate_cmd,
        purge_cmd,
        queue_cmd,
        schedule_cmd,
        steer_cmd,
        tui_cmd,
        wait_cmd,
        worker_cmd,
    )

    app = typer.Typer(no_args_is_help=True,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_root)
    jobs_cmd.register(app)
    steer_cmd.register(app)
    app.add_typer(worker_cmd.app, name="worker", help="Run, stop and list workers.")
    app.add_typer(dlq_cmd.app, name="dlq", help="The dead letter queue.")
    app.add_typer(config_cmd.app, name="config", help="Persistent configuration.")
    app.add_typer(queue_cmd.app, name="queue", help="Queues: limits, pause, counts.")
    app.add_typer(schedule_cmd.app, name="schedule", help="Cron schedules.")
    app.command("bench")(bench_cmd.bench)
    app.command("dashboard")(dashboard_cmd.dashboard)
    app.command("tui")(tui_cmd.tui)
    migrate_cmd.register(app)
    wait_cmd.register(app)
    purge_cmd.register(app)
    return app
