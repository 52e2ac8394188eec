"""The JSON documents of jobs, attempts, workers and metrics: one shape for the CLI's --json and
the dashboard's API (below cli/, so web/ never imports the CLI)."""

from typing import Any

from .jobs import Attempt, Job, Metrics, QueueInfo, Schedule, WorkerInfo
from .timeutil import format_ms


def number(value: float | None) -> float | int | None:
    """2.0 -> 2 so JSON and tables read naturally."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def job_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "command": job.command,
        "state": job.state.value,
        "attempts": job.attempts,
        "max_retries": job.max_retries,
        "created_at": format_ms(job.created_at),
        "updated_at": format_ms(job.updated_at),
        "priority": job.priority,
        "run_at": format_ms(job.run_at),
        "next_retry_at": format_ms(job.next_retry_at),
        "timeout": number(job.timeout),
        "exit_code": job.exit_code,
        "last_error": job.last_error,
        "worker": job.worker_id,
        "queue": job.queue,
        "batch": job.batch,
        "cwd": job.cwd,
        "env": dict(job.env) if job.env else {},
        "unique_key": job.unique_key,
        "after": list(job.after),
    }


def attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.n,
        "worker": attempt.worker_id,
        "started_at": format_ms(attempt.started_at),
        "finished_at": format_ms(attempt.finished_at),
        "exit_code": attempt.exit_code,
        "error": attempt.error,
        "duration": attempt.duration,
    }


def worker_dict(worker: WorkerInfo) -> dict[str, Any]:
    return {
        "id": worker.id,
        "pid": worker.pid,
        "host": worker.host,
        "concurrency": worker.concurrency,
        "started_at": format_ms(worker.started_at),
        "last_heartbeat": format_ms(worker.heartbeat_at),
        "running": worker.running,
    }


def queue_dict(queue: QueueInfo) -> dict[str, Any]:
    """`queue list --json` (and the dashboard's /api/queues): counts as in `status`'s "jobs"."""
    return {"name": queue.name, "paused": queue.paused, "limit": queue.limit,
            "jobs": {**queue.counts, "total": sum(queue.counts.values())}}


def metrics_dict(metrics: Metrics) -> dict[str, Any]:
    return {
        "completed_last_minute": metrics.completed_last_minute,
        "failed_last_minute": metrics.failed_last_minute,
        "completed_last_hour": metrics.completed_last_hour,
        "failed_last_hour": metrics.failed_last_hour,
        "mean_duration": metrics.mean_duration,
        "p95_duration": metrics.p95_duration,
    }


def schedule_dict(schedule: Schedule) -> dict[str, Any]:
    """`schedule list --json` (and the dashboard's /api/schedules)."""
    job = schedule.job
    return {"name": schedule.name, "cron": schedule.cron, "zone": schedule.zone,
            "next_run": format_ms(schedule.next_run), "last_run": format_ms(schedule.last_run),
            "job": {"command": job.command, "max_retries": job.max_retries,
                    "priority": job.priority, "timeout": job.timeout, "queue": job.queue,
                    "cwd": job.cwd, "env": dict(job.env or {}), "unique_key": job.unique_key}}
