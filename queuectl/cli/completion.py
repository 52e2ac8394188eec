"""Values for typer's shell completion (`queuectl --install-completion`): states, config keys
and job ids. Called only while the shell asks for completions (`_QUEUECTL_COMPLETE` set), so
nothing here costs the commands themselves anything."""

from typing import Any

ID_STATES = ("dead", "failed", "processing", "pending")  # the jobs one inspects or retries
IDS_PER_STATE = 200  # each an index range scan (jobs_state): cheap at any store size


def complete_state(incomplete: str) -> list[str]:
    from ..jobs import STATES

    return [s for s in STATES if s.startswith(incomplete)]


def complete_config_key(incomplete: str) -> list[tuple[str, str]]:
    from ..settings import KEYS

    return [(k, spec.help) for k, spec in KEYS.items() if k.startswith(incomplete)]


def complete_job_id(ctx: Any, incomplete: str) -> list[str]:
    """Ids of unfinished and dead jobs; completed ones are too many to list cheaply."""
    return _ids(ctx, ID_STATES, incomplete)


def complete_dead_id(ctx: Any, incomplete: str) -> list[str]:
    return _ids(ctx, ("dead",), incomplete)


def _ids(ctx: Any, states: tuple[str, ...], incomplete: str) -> list[str]:
    from ..jobs import JobState
    from ..store import resolve, sqlite_path
    from .context import run_reading

    async def fetch(store) -> list[str]:
        return [job.id for state in states
                async for job in store.iter_jobs(state=JobState(state), limit=IDS_PER_STATE)
                if job.id.startswith(incomplete)]

    try:
        location = resolve(ctx.find_root().params.get("db"))
        path = sqlite_path(location)
        if path is not None and not path.exists():
            return []  # completing must not create a store
        return run_reading(location, fetch)
    except Exception:  # noqa: BLE001 - a completion must never print a traceback in the shell
        return []
