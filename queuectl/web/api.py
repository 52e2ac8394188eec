"""The JSON API (the CLI's --json documents), /metrics and the event stream.

Each route is a thin call into core/ or views; errors are `{"error": ...}` with the status
app.py maps from the QueuectlError subclass. Actions are POST routes only."""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from ..core import actions
from ..core.reading import job_document, live_workers, load_settings, status_document
from ..render import job_dict, queue_dict, schedule_dict, worker_dict
from ..timeutil import now_ms
from . import events, live, metrics, views


def store_of(request: Request) -> Any:
    return request.app.state.store


async def status(request: Request) -> Response:
    return JSONResponse(await status_document(store_of(request), now=now_ms()))


async def jobs(request: Request) -> Response:
    """`list --json`, newest first, one page; the neighbouring pages are in the Link header."""
    listing = views.parse_listing(request.query_params)
    page = await listing.page(store_of(request))
    links = []
    if page.older is not None:
        links.append(f'</api/jobs?{listing.query(before=page.older)}>; rel="next"')
    if page.newer is not None:
        links.append(f'</api/jobs?{listing.query(after=page.newer)}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else None
    return JSONResponse([job_dict(j) for j in page.jobs], headers=headers)


async def job(request: Request) -> Response:
    return JSONResponse(await job_document(store_of(request), request.path_params["id"]))


async def logs(request: Request) -> Response:
    """An attempt's output as text (invalid UTF-8 replaced): {id, attempt, stdout, stderr}."""
    attempt = views.parse_attempt(request.query_params)
    output = await store_of(request).output(request.path_params["id"], attempt)
    return JSONResponse({"id": request.path_params["id"], "attempt": output.attempt,
                         "stdout": output.stdout.decode(errors="replace"),
                         "stderr": output.stderr.decode(errors="replace")})


async def workers(request: Request) -> Response:
    store = store_of(request)
    live = await live_workers(store, await load_settings(store), now_ms())
    return JSONResponse([worker_dict(w) for w in live])


async def retry(request: Request) -> Response:
    """`dlq retry ID`: 404 for an unknown job, 409 for one that is not dead."""
    retried = await actions.retry_dead(store_of(request), [request.path_params["id"]])
    return JSONResponse({"retried": retried})


async def cancel(request: Request) -> Response:
    """`cancel ID --json`: the job after the cancel (dead at once if it was waiting; still
    processing until its worker kills it if it was running). 404 unknown, 409 finished."""
    jobs = await actions.cancel_jobs(store_of(request), ids=[request.path_params["id"]])
    return JSONResponse([job_dict(j) for j in jobs])


async def follow(request: Request) -> Response:
    """The running (or next) attempt's output as server-sent events (live.py); 404 at once
    for an unknown job."""
    store, job_id = store_of(request), request.path_params["id"]
    await store.get_job(job_id)
    return StreamingResponse(live.output_events(store, job_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def retry_all(request: Request) -> Response:
    """`dlq retry --all`."""
    return JSONResponse({"retried": await actions.retry_dead(store_of(request), None)})


async def queues(request: Request) -> Response:
    """`queue list --json`."""
    found = await store_of(request).list_queues()
    return JSONResponse([queue_dict(q) for q in found])


async def pause(request: Request) -> Response:
    """`queue pause NAME`: a bad name is 400; an unknown queue is created paused, as the CLI
    does (a queue can be paused before its first job)."""
    return await _set_paused(request, paused=True)


async def resume(request: Request) -> Response:
    """`queue resume NAME`."""
    return await _set_paused(request, paused=False)


async def _set_paused(request: Request, *, paused: bool) -> Response:
    (name,) = await actions.pause_queues(store_of(request), [request.path_params["name"]],
                                         paused=paused)
    return JSONResponse({"name": name, "paused": paused})


async def schedules(request: Request) -> Response:
    """`schedule list --json`."""
    return JSONResponse([schedule_dict(s) for s in await store_of(request).list_schedules()])


async def event_stream(request: Request) -> Response:
    return StreamingResponse(events.status_events(request.app.state.feed),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def prometheus(request: Request) -> Response:
    text = await views.metrics_text(store_of(request), now=now_ms())
    return PlainTextResponse(text, media_type=metrics.CONTENT_TYPE)


ROUTES = [
    Route("/api/status", status),
    Route("/api/jobs", jobs),
    Route("/api/jobs/{id:path}/logs", logs),
    Route("/api/jobs/{id:path}/retry", retry, methods=["POST"]),
    Route("/api/jobs/{id:path}/cancel", cancel, methods=["POST"]),
    Route("/api/jobs/{id:path}/follow", follow),
    Route("/api/jobs/{id:path}", job),
    Route("/api/workers", workers),
    Route("/api/dlq/retry", retry_all, methods=["POST"]),
    Route("/api/queues", queues),
    Route("/api/queues/{name}/pause", pause, methods=["POST"]),
    Route("/api/queues/{name}/resume", resume, methods=["POST"]),
    Route("/api/schedules", schedules),
    Route("/api/events", event_stream),
    Route("/metrics", prometheus),
]
