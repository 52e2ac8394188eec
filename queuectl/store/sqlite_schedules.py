"""Schedules on SQLite: transaction bodies for `schedule add/remove` and for firing one run.

Firing is a compare-and-set on the schedule's `next_run` and the insert of the run's job in
one write transaction: whichever worker commits first moves `next_run` on, and every other
worker's compare then fails. A worker that dies before its commit has changed nothing."""

import sqlite3

from ..errors import ScheduleExistsError, ScheduleNotFoundError
from ..jobs import NewJob, Schedule
from .rows import SCHEDULE_COLUMNS, schedule_values
from .sqlite_sql import insert_new_jobs


def add(conn: sqlite3.Connection, schedule: Schedule) -> None:
    try:
        conn.execute(f"INSERT INTO schedules ({SCHEDULE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     schedule_values(schedule))
    except sqlite3.IntegrityError:
        raise ScheduleExistsError(f"a schedule named {schedule.name!r} already exists") from None


def remove(conn: sqlite3.Connection, name: str) -> None:
    if conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount == 0:
        raise ScheduleNotFoundError(f"no schedule named {name!r}")


def fire(conn: sqlite3.Connection, *, name: str, expected: int, next_run: int | None,
         job: NewJob, now: int) -> list[str] | None:
    """Enqueue one run if `next_run` is still `expected` (else None: another worker fired it).
    Returns the worker ids to wake."""
    moved = conn.execute(
        "UPDATE schedules SET next_run = ?, last_run = ? WHERE name = ? AND next_run = ?",
        (next_run, job.run_at, name, expected)).rowcount
    if not moved:
        return None
    if conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job.id,)).fetchone():
        return []  # this run exists already (a schedule removed and added again)
    _, workers, _ = insert_new_jobs(conn, jobs=[job], now=now)
    return workers
