"""The dashboard application: routes, the store's lifetime, errors as HTTP statuses."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from ..errors import (
    DuplicateJobError,
    JobNotFoundError,
    QueuectlError,
    StoreError,
    UsageError,
    WrongStateError,
)
from . import api, pages
from .events import StatusFeed
from .security import Guard

STATIC = Path(__file__).with_name("static")
STATUS_OF = [  # most specific first
    (JobNotFoundError, 404), (WrongStateError, 409), (DuplicateJobError, 409),
    (UsageError, 400), (StoreError, 503),
]


def create_app(*, db: str, token: str | None, store: Any = None) -> Starlette:
    """The ASGI app over the store at `db` (opened by the lifespan), or over an already
    opened `store` (then the caller closes it)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from ..store import open_store

        opened = store if store is not None else await open_store(db)
        app.state.store, app.state.feed = opened, StatusFeed(opened)
        try:
            yield
        finally:
            if store is None:
                await opened.close()

    routes = [*api.ROUTES, *pages.ROUTES, Mount("/static", StaticFiles(directory=STATIC))]
    return Starlette(routes=routes, lifespan=lifespan,
                     middleware=[Middleware(Guard, token=token)],
                     exception_handlers={QueuectlError: failed, 404: not_found})


def http_status(exc: QueuectlError) -> int:
    return next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 500)


async def failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueuectlError)
    return error_response(request, http_status(exc), str(exc))


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, 404, "no such page")


def error_response(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith(("/api/", "/metrics")):
        return JSONResponse({"error": message}, status_code=status)
    return pages.render(request, "error.html", status, message=message, status=status,
                        page="error")
