"""Pure planning of `after` for one enqueue batch, shared by both backends: which stored jobs
the batch depends on, and what each new job waits for. The backends run the plan inside the
inserting transaction, with the stored dependencies' states read under lock."""

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from ..errors import JobNotFoundError
from ..jobs import NewJob


class Link(NamedTuple):
    job_id: str
    open_deps: tuple[str, ...]  # dependencies not completed yet: one edge each
    failed: str | None  # a dependency already dead: the job is buried at birth


def stored_dependencies(jobs: Sequence[NewJob]) -> list[str]:
    """The `after` ids that must already be in the store: none of the batch's own ids (an id
    of a later job of the batch is not allowed, and is not looked up)."""
    own = {job.id for job in jobs}
    return list(dict.fromkeys(dep for job in jobs for dep in job.after if dep not in own))


def plan(jobs: Sequence[NewJob], skipped: Mapping[int, str],
         stored: Mapping[str, str]) -> list[Link]:
    """Links of the new jobs that have `after`. `skipped`: position -> the id of the job holding
    its unique key (it was not inserted; a later `after` naming it means the holder);
    `stored`: state of each stored dependency found. Exit 1 for any other id."""
    batch: dict[str, str] = {}  # id of an earlier job -> the job it names (it, or its key's holder)
    links = []
    for position, job in enumerate(jobs):
        states = []
        for dep in job.after:
            if dep in batch:  # unfinished: just inserted, or holding a key
                states.append((batch[dep], "pending"))
            elif dep in stored:
                states.append((dep, stored[dep]))
            else:
                raise JobNotFoundError(f"after: no job with id {dep!r}")
        if job.after and position not in skipped:
            failed = next((dep for dep, state in states if state == "dead"), None)
            open_deps = tuple(dict.fromkeys(d for d, state in states if state != "completed"))
            links.append(Link(job.id, open_deps, failed))
        batch[job.id] = skipped.get(position, job.id)
    return links


def waiting_counts(edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """job id -> how many dependencies it still waits for, from (dep_id, job_id) edges: the
    `waiting` count an enqueue sets (one per open dependency, one edge each)."""
    counts: dict[str, int] = {}
    for _, job_id in edges:
        counts[job_id] = counts.get(job_id, 0) + 1
    return counts
