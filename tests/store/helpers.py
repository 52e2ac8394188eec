"""Small builders shared by the store contract tests (protocol only, no backend specifics)."""

from queuectl.jobs import Finish, JobState, NewJob, RunResult, Transition

NOW = 1_800_000_000_000


def job(job_id, command="true", **fields):
    fields.setdefault("max_retries", 3)
    return NewJob(id=job_id, command=command, **fields)


def result(exit_code=0, *, error=None, finished=NOW + 100, duration=0.1, out=b"", err=b""):
    if exit_code not in (0, None) and error is None:
        error = f"exit code {exit_code}"
    return RunResult(exit_code, error, finished - round(duration * 1000), finished, duration,
                     out, err)


def finish(claimed, state=JobState.COMPLETED, *, run_at=None, worker=None, run_no=None, res=None):
    if res is None:
        res = result(0) if state == JobState.COMPLETED else result(1)
    return Finish(claimed.id, worker or claimed.worker_id, claimed.run_no if run_no is None else run_no,
                  Transition(state, run_at), res)


async def claim(store, limit=10, *, worker="w1", now=NOW):
    return await store.claim_jobs(worker_id=worker, limit=limit, now=now)


async def ids(store, state=None):
    return [j.id async for j in store.iter_jobs(state=state)]


async def kept_queue_counts(store):
    """(queue, state) -> n as list_queues reports it (the store's kept counts), zeros left out."""
    return {(q.name, state): n for q in await store.list_queues()
            for state, n in q.counts.items() if n}


async def make_dead(store, job_id="d"):
    await store.insert_jobs([job(job_id, "false", max_retries=0, priority=2**31 - 1)], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.finish_jobs([finish(claimed, JobState.DEAD)], now=NOW + 100)
    return claimed
