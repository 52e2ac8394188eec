"""`queuectl enqueue` behind both front doors: the typer command and the lean dispatcher in
entry.py. Imports nothing heavy: on SQLite it inserts synchronously, without asyncio."""

import sys
from typing import Any

from ..errors import UsageError
from ..jobs import Job, NewJob


def enqueue(*, db: str | None, job: str | None = None, file: str | None = None,
            json_out: bool = False, quiet: bool = False, each: str | None = None,
            wait: bool = False, wait_timeout: str | None = None, **flags: Any) -> int:
    """`flags`: the job fields of the flag table as typed (None = not given). Returns the exit
    code: 0, or with --wait that of `queuectl wait` on the jobs."""
    from ..spec import build_jobs
    from ..store import resolve
    from ..timeutil import now_ms
    from .flags import seconds_flag

    if json_out and quiet:
        raise UsageError("give --json or --quiet, not both")
    if wait_timeout is not None and not wait:
        raise UsageError("--wait-timeout needs --wait")
    timeout = seconds_flag("--wait-timeout", wait_timeout)  # before anything is enqueued
    now = now_ms()
    overrides = field_overrides(flags, now=now)
    documents = _documents(job, file, each)
    if overrides.get("id") is not None and len(documents) > 1:
        raise UsageError("--id names one job, but the input holds several")
    new_jobs = build_jobs(documents, overrides, now=now)
    jobs = insert(resolve(db), new_jobs, records=json_out and not wait)
    note_held_keys(new_jobs, jobs)
    if not (quiet or (wait and json_out)):  # --wait --json: the wait document alone
        single = each is None and file is None and not job.lstrip().startswith("[")
        print_enqueued(jobs, json_out=json_out, single=single)
    if not wait:
        return 0
    from .wait_core import run_wait

    return run_wait(db, ids=[j.id for j in jobs], timeout=timeout, json_out=json_out)


def _documents(job: str | None, file: str | None, each: str | None) -> list[tuple[str, Any]]:
    from ..documents import documents_from_arg, documents_from_each, documents_from_file

    if each is not None:
        if job is not None:
            raise UsageError("--each reads its lines from --file or stdin: give no JOB")
        return documents_from_each(each, read_input(file or "-"))
    if (job is None) == (file is None):
        raise UsageError("give a JOB argument or --file, exactly one")
    return documents_from_arg(job) if file is None else documents_from_file(read_input(file))


def field_overrides(flags: dict[str, Any], *, now: int) -> dict[str, Any]:
    """Flag text -> the values spec.build_jobs takes: durations to seconds, --run-at to
    ISO-8601 (a bad one is exit 2 naming the flag)."""
    from .flags import seconds_flag

    overrides = dict(flags)
    for name in ("delay", "timeout"):
        overrides[name] = seconds_flag(f"--{name}", flags.get(name))
    if flags.get("run_at") is not None:
        from ..run_at import parse_run_at
        from ..timeutil import format_ms

        try:
            overrides["run_at"] = format_ms(parse_run_at(flags["run_at"], now=now))
        except ValueError as exc:
            raise UsageError(f"--run-at: {exc}") from None
    return overrides


def insert(location: str, new_jobs: list[NewJob], *, records: bool = True) -> list[Job]:
    """The jobs as stored. records=False: on SQLite, a job inserted as given comes back as
    its NewJob (same id), only a unique key's holder or a job dead at birth as a Job: what
    printing ids needs, without building 100,000 records (a fifth of P4's CPU)."""
    from ..store import sqlite_path
    from ..timeutil import now_ms

    path = sqlite_path(location)
    if path is not None:
        from ..store.sqlite_enqueue import insert_jobs

        return insert_jobs(path, new_jobs, now=now_ms(), records=records)
    return _insert_async(location, new_jobs)


def _insert_async(location: str, new_jobs: list[NewJob]) -> list[Job]:
    import asyncio

    from ..store import open_store
    from ..timeutil import now_ms

    async def main() -> list[Job]:
        store = await open_store(location)
        try:
            return await store.insert_jobs(new_jobs, now=now_ms())  # fills max_retries itself
        finally:
            await store.close()

    return asyncio.run(main())


def note_held_keys(new_jobs: list[NewJob], jobs: list[Job]) -> None:
    """A job whose unique key an unfinished job holds was not created: the holder came back in
    its place (its id is printed instead); say so on stderr."""
    for new, job in zip(new_jobs, jobs, strict=True):
        if job.id != new.id:
            sys.stderr.write(f"note: job {job.id} ({job.state}) holds unique key "
                             f"{new.unique_key!r}; nothing enqueued\n")


def read_input(path: str) -> str:
    try:
        if path == "-":
            if sys.stdin is None:  # started with fd 0 closed (`<&-`)
                raise UsageError("cannot read -: standard input is closed")
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def print_enqueued(jobs: list[Job], *, json_out: bool, single: bool) -> None:
    if not json_out:
        sys.stdout.write("".join(f"{j.id}\n" for j in jobs))
        return
    from ..render import job_dict
    from .output import print_json

    print_json(job_dict(jobs[0]) if single else [job_dict(j) for j in jobs])
