"""Read models shared by `status`, `show`, `worker list` and the dashboard: typer-free and
import-light (the lean `status` path loads this module)."""

from typing import Any

from ..render import attempt_dict, job_dict, metrics_dict, worker_dict


async def load_settings(store: Any):
    from ..settings import Settings

    return Settings.from_stored(await store.get_config())


async def live_workers(store: Any, settings: Any, now: int) -> list:
    """Registered workers whose lease has not run out (and, on this host, whose pid exists)."""
    from ..workers import is_alive, this_host

    host = this_host()
    return [w for w in await store.list_workers()
            if is_alive(w, now=now, lease_s=settings.worker_lease, host=host)]


async def status_document(store: Any, *, now: int) -> dict[str, Any]:
    """`status --json`: counts per state with the total, the DLQ size, live workers, metrics,
    and the live workers' slots and running jobs."""
    settings = await load_settings(store)
    counts = await store.count_by_state()
    workers = await live_workers(store, settings, now)
    metrics = await store.metrics(now=now)
    return {
        "jobs": counts | {"total": sum(counts.values())},
        "dlq": counts["dead"],
        "workers": [worker_dict(w) for w in workers],
        "metrics": metrics_dict(metrics),
        "slots": sum(w.concurrency for w in workers),  # job slots of the live workers
        "running": sum(w.running for w in workers),  # as of each worker's last heartbeat
    }


async def job_document(store: Any, job_id: str) -> dict[str, Any]:
    """`show ID --json`: the job object with its attempt `history`."""
    job = await store.get_job(job_id)
    history = await store.attempts(job_id)
    return job_dict(job) | {"history": [attempt_dict(a) for a in history]}
