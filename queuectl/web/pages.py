"""The HTML pages: server-rendered from Jinja2 templates (autoescaped: a job's output or command
is always text, never markup). The live parts are fragments that app.js swaps in on each
server-sent `status` event."""

import secrets
import urllib.parse
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from ..core.reading import job_document, live_workers, load_settings
from ..errors import JobNotFoundError
from ..jobs import STATES, JobState
from ..render import schedule_dict
from ..store.paging import SEARCH_WINDOW
from ..timeutil import format_ms, now_ms, parse_iso
from . import views

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def ago(ms: int | None, now: int) -> str:
    """A moment relative to now, as people say it: "12 s ago", "in 3 min"."""
    if ms is None:
        return "-"
    delta = (now - ms) // 1000
    size = abs(delta)
    text = (f"{size} s" if size < 60 else f"{size // 60} min" if size < 3600
            else f"{size // 3600} h" if size < 86400 else f"{size // 86400} d")
    return "just now" if size < 1 else f"{text} ago" if delta > 0 else f"in {text}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def job_url(job_id: str) -> str:
    return "/jobs/" + quote_id(job_id)


def ago_iso(text: str | None, now: int) -> str:
    return "-" if text is None else ago(parse_iso(text), now)


def quote_id(job_id: str) -> str:
    return urllib.parse.quote(job_id, safe="")


TEMPLATES.env.filters.update(ts=format_ms, seconds=seconds, job_url=job_url, quote_id=quote_id)
TEMPLATES.env.globals.update(ago=ago, ago_iso=ago_iso, STATES=STATES)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("now", now_ms())
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def render_login(request: Request, message: str, headers: dict[str, str]) -> Response:
    """The 401 page: self-contained (its stylesheet inline, allowed by a one-time nonce),
    since every other request is refused until the token is shown."""
    nonce = secrets.token_urlsafe(16)
    css = (Path(__file__).with_name("static") / "app.css").read_text()
    response = render(request, "login.html", 401, message=message, nonce=nonce, css=css)
    response.headers.update(headers)
    response.headers["content-security-policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
        "frame-ancestors 'none'")
    return response


async def overview(request: Request) -> Response:
    data = await views.overview(request.app.state.store, now=now_ms())
    return render(request, "overview.html", page="overview", **data)


async def overview_live(request: Request) -> Response:
    data = await views.overview(request.app.state.store, now=now_ms())
    return render(request, "_live.html", **data)


async def jobs(request: Request) -> Response:
    listing = views.parse_listing(request.query_params)
    page = await listing.page(request.app.state.store)
    names = [q.name for q in await request.app.state.store.list_queues()]
    return render(request, "jobs.html", page="jobs", listing=listing, jobs=page.jobs,
                  job_page=page, path="/jobs", window=SEARCH_WINDOW, queue_names=names)


async def dlq(request: Request) -> Response:
    params = dict(request.query_params) | {"state": "dead"}
    listing = views.parse_listing(params)
    page = await listing.page(request.app.state.store)
    counts = await request.app.state.store.count_by_state()
    return render(request, "dlq.html", page="dlq", listing=listing, jobs=page.jobs, job_page=page,
                  path="/dlq", dead=counts[JobState.DEAD])


async def job(request: Request) -> Response:
    store, job_id = request.app.state.store, request.path_params["id"]
    document = await job_document(store, job_id)
    wanted = views.parse_attempt(request.query_params)
    output = None
    if document["history"]:
        try:
            output = await store.output(job_id, wanted)
        except JobNotFoundError:
            if wanted is not None:
                raise
    return render(request, "job.html", page="jobs", job=document, output=output,
                  stdout=output and output.stdout.decode(errors="replace"),
                  stderr=output and output.stderr.decode(errors="replace"))


async def queues(request: Request) -> Response:
    found = await request.app.state.store.list_queues()
    return render(request, "queues.html", page="queues", queues=found)


async def schedules(request: Request) -> Response:
    found = await request.app.state.store.list_schedules()
    return render(request, "schedules.html", page="schedules",
                  schedules=[schedule_dict(s) | {"next_ms": s.next_run, "last_ms": s.last_run}
                             for s in found])


async def workers(request: Request) -> Response:
    store = request.app.state.store
    live = await live_workers(store, await load_settings(store), now_ms())
    return render(request, "workers.html", page="workers", workers=live)


ROUTES = [
    Route("/", overview),
    Route("/live/overview", overview_live),
    Route("/jobs", jobs),
    Route("/jobs/{id:path}", job),
    Route("/dlq", dlq),
    Route("/workers", workers),
    Route("/queues", queues),
    Route("/schedules", schedules),
]
