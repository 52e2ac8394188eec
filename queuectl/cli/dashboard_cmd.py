"""dashboard: the web UI; Starlette and uvicorn come with the `web` extra."""

import typer

from ..errors import QueuectlError, UsageError
from .context import options

INSTALL_HINT = "the dashboard needs the web extra: pip install 'queuectl[web]'"
WEB_MODULES = ("starlette", "uvicorn", "jinja2")


def dashboard(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", "-p", help="Port (0: any free one)."),
    token: str = typer.Option(None, "--token", envvar="QUEUECTL_DASHBOARD_TOKEN",
                              help="Required from every client; generated for a non-local host."),
) -> None:
    """Serve the web dashboard, its JSON API and /metrics (default http://127.0.0.1:8765)."""
    check_options(host=host, port=port, token=token)
    require_web_extra()
    from ..web.server import serve

    serve(db=options(ctx).db, host=host, port=port, token=token)


def check_options(*, host: str, port: int, token: str | None) -> None:
    if not host.strip():
        raise UsageError("--host is empty")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    if token is not None and (len(token) < 8 or not token.isascii() or not token.isprintable()
                              or " " in token):
        raise UsageError("--token must be at least 8 printable ASCII characters, no spaces")


def require_web_extra() -> None:
    """Exit 1 with the install line when the extra is missing (like the PostgreSQL backend)."""
    import importlib.util

    if any(importlib.util.find_spec(name) is None for name in WEB_MODULES):
        raise QueuectlError(INSTALL_HINT)
