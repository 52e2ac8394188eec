"""SQLite file preparation and versioned migrations (PRAGMA user_version).

Synchronous on purpose: it runs once when a store is opened, before any worker task exists,
and the lean one-shot CLI path shares it without importing asyncio.
"""

import os
import sqlite3
import time
from pathlib import Path

from ..errors import StoreError

BUSY_TIMEOUT_S = 30.0  # writers queue behind each other; users never see "database is locked"

MIGRATIONS: tuple[str, ...] = (
    # 1: jobs, their attempt history and output, workers, config, O(1) counts per state
    """
    CREATE TABLE jobs (
        seq         INTEGER PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        command     TEXT NOT NULL,
        state       TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL,
        priority    INTEGER NOT NULL DEFAULT 0,
        run_at      INTEGER NOT NULL,
        timeout     REAL,
        exit_code   INTEGER,
        last_error  TEXT,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        worker_id   TEXT,
        started_at  INTEGER,
        run_no      INTEGER NOT NULL DEFAULT 0,
        pid         INTEGER
    );
    -- the claim query walks this index in order and stops after LIMIT due rows
    CREATE INDEX jobs_due ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
    CREATE INDEX jobs_state ON jobs (state, seq);
    -- the idle worker's "when is the next job due?" (the index above is ordered by priority)
    CREATE INDEX jobs_due_at ON jobs (run_at) WHERE state IN ('pending', 'failed');

    CREATE TABLE attempts (
        job_id      TEXT NOT NULL,  -- written only through a SELECT on jobs (GUARD): no FK lookup
        n           INTEGER NOT NULL,
        worker_id   TEXT,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        ok          INTEGER NOT NULL,
        exit_code   INTEGER,
        error       TEXT,
        duration    REAL,
        stdout      BLOB,
        stderr      BLOB,
        UNIQUE (job_id, n)
    );
    -- status metrics read only this covering index, never the output blobs
    CREATE INDEX attempts_finished ON attempts (finished_at, ok, duration);

    CREATE TABLE workers (
        id             TEXT PRIMARY KEY,
        pid            INTEGER NOT NULL,
        host           TEXT NOT NULL,
        concurrency    INTEGER NOT NULL,
        started_at     INTEGER NOT NULL,
        heartbeat_at   INTEGER NOT NULL,
        running        INTEGER NOT NULL DEFAULT 0,
        stop_requested INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE job_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL);
    INSERT INTO job_counts (state, n)
        VALUES ('pending', 0), ('processing', 0), ('completed', 0), ('failed', 0), ('dead', 0);
    CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
        UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
    END;
    CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> NEW.state BEGIN
        UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
        UPDATE job_counts SET n = n + 1 WHERE state = NEW.state;
    END;
    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET n = n - 1 WHERE state = OLD.state;
    END;
    """,
    # 2: inserts add their whole batch to the pending count (sqlite_sql.COUNT_INSERTED); a
    # trigger per inserted row was half the cost of a bulk enqueue
    """
    DROP TRIGGER jobs_count_insert;
    """,
    # 3: Part 2 (CLI.md "More job fields"; docs: PART2-SCHEMA). Every Part 2 change adds to
    # this one migration. NULL batch/cwd/env/after_ids = a job enqueued before Part 2 / none.
    """
    ALTER TABLE jobs ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE jobs ADD COLUMN batch TEXT;
    ALTER TABLE jobs ADD COLUMN cwd TEXT;
    ALTER TABLE jobs ADD COLUMN env TEXT;  -- JSON object
    ALTER TABLE jobs ADD COLUMN unique_key TEXT;
    ALTER TABLE jobs ADD COLUMN after_ids TEXT;  -- JSON array of job ids
    -- list/wait/purge --batch; seq is the rowid, so a batch's entries sit in enqueue order
    CREATE INDEX jobs_batch ON jobs (batch);
    -- the dashboard's job list by queue, newest first (the same rowid trick): written by an
    -- insert only, never by a claim or a finish (the queue of a job does not change)
    CREATE INDEX jobs_queue ON jobs (queue);
    -- purge and retention: the oldest finished jobs first, never a scan of the live ones
    CREATE INDEX jobs_finished ON jobs (state, updated_at) WHERE state IN ('completed', 'dead');

    -- Flow control (issue 10; DECISIONS.md §6). gated: the job's queue is paused or limited,
    -- so the claim takes it through its queue's own index; waiting: dependencies (`after`)
    -- not yet completed; has_dependents: some job waits on this one.
    ALTER TABLE jobs ADD COLUMN gated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN has_dependents INTEGER NOT NULL DEFAULT 0;
    -- the claim of ungated queues walks this in order and stops after LIMIT rows
    DROP INDEX jobs_due;
    CREATE INDEX jobs_due ON jobs (priority DESC, run_at, seq)
        WHERE state IN ('pending', 'failed') AND gated = 0 AND waiting = 0;
    DROP INDEX jobs_due_at;
    CREATE INDEX jobs_due_at ON jobs (run_at)
        WHERE state IN ('pending', 'failed') AND gated = 0 AND waiting = 0;
    -- a limited or served queue's own order (waiting = 0 is a prefix), and its backlog counts
    CREATE INDEX jobs_queue_due ON jobs (queue, waiting, priority DESC, run_at, seq)
        WHERE state IN ('pending', 'failed');
    -- what a limited queue has running: read by the claim, at most `limit` entries
    CREATE INDEX jobs_running ON jobs (queue) WHERE state = 'processing';
    -- one unfinished holder per unique key; the key is free again once it completes or dies
    CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

    CREATE TABLE queues (
        name        TEXT PRIMARY KEY,
        paused      INTEGER NOT NULL DEFAULT 0,
        max_running INTEGER NOT NULL DEFAULT 0  -- `queue set --limit`; 0 = no limit
    ) WITHOUT ROWID;
    CREATE INDEX queues_limited ON queues (name) WHERE max_running > 0 AND paused = 0;

    -- job_id waits for dep_id; the row goes when dep_id completes (or both die)
    CREATE TABLE job_deps (
        dep_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        PRIMARY KEY (dep_id, job_id)
    ) WITHOUT ROWID;

    CREATE TABLE schedules (
        name       TEXT PRIMARY KEY,
        cron       TEXT NOT NULL,
        zone       TEXT NOT NULL,
        job        TEXT NOT NULL,  -- JSON: the job document and enqueue flags
        next_run   INTEGER,        -- epoch ms; NULL: never again
        last_run   INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX schedules_due ON schedules (next_run);

    -- cancel and live output (i9b)
    -- cancel: set on a processing job; its worker stops it and sends it to dead (cancelled)
    ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    -- the heartbeat's "which of my jobs were cancelled?" reads only the jobs being cancelled
    CREATE INDEX jobs_cancel ON jobs (worker_id) WHERE cancel_requested = 1;
    -- a running attempt's output, written while it runs (logs --follow); pos is the byte
    -- position in its stream (1 stdout, 2 stderr); seq orders the pieces as they were stored
    CREATE TABLE output_chunks (
        seq     INTEGER PRIMARY KEY,
        job_id  TEXT NOT NULL,
        run_no  INTEGER NOT NULL,
        stream  INTEGER NOT NULL,
        pos     INTEGER NOT NULL,
        data    BLOB NOT NULL,
        UNIQUE (job_id, run_no, stream, pos)
    );
    CREATE INDEX output_chunks_read ON output_chunks (job_id, run_no, seq);
    """,
    # 4: counts per queue and state. `queue list`, the dashboard's and the TUI's queues read
    # these rows instead of a GROUP BY over every job (1.4 s at 10^6); count_by_state sums
    # them. Same triggers, same cost: one counter row down, one up per state change.
    """
    CREATE TABLE queue_counts (
        queue TEXT NOT NULL,
        state TEXT NOT NULL,
        n     INTEGER NOT NULL,
        PRIMARY KEY (queue, state)
    ) WITHOUT ROWID;
    INSERT INTO queue_counts (queue, state, n)
        SELECT queue, state, count(*) FROM jobs GROUP BY queue, state;
    DROP TRIGGER jobs_count_update;
    DROP TRIGGER jobs_count_delete;
    DROP TABLE job_counts;
    ALTER TABLE queue_counts RENAME TO job_counts;
    CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> NEW.state BEGIN
        UPDATE job_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
        INSERT INTO job_counts (queue, state, n) VALUES (NEW.queue, NEW.state, 1)
            ON CONFLICT (queue, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
        UPDATE job_counts SET n = n - 1 WHERE queue = OLD.queue AND state = OLD.state;
    END;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = {"jobs", "attempts", "workers", "config", "job_counts", "queues", "job_deps",
              "schedules", "output_chunks"}


def prepare_file(path: Path) -> None:
    """Create the folder (0700) and the file (0600) on first use; SQLite creates -wal/-shm alike."""
    folder = path.parent
    if not folder.exists():
        try:
            folder.mkdir(mode=0o700, parents=True)
            folder.chmod(0o700)  # mkdir's mode is filtered by the umask
        except FileExistsError:
            pass  # another process's first use created it a moment ago
        except OSError as exc:
            raise StoreError(f"cannot create {folder}: {exc.strerror}") from None
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StoreError(f"cannot create {path}: {exc.strerror}") from None


def configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across app crashes
    conn.execute("PRAGMA foreign_keys = ON")


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION; safe when several processes open a new store at once."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        _refuse_unknown(conn, path, version)  # before anything is changed in someone's file
        _switch_to_wal(conn)
        conn.execute("BEGIN IMMEDIATE")
        try:
            _apply_missing(conn, path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.DatabaseError as exc:
        raise StoreError(describe(exc, path)) from None


def _switch_to_wal(conn: sqlite3.Connection) -> None:
    """WAL is persistent in the file. The switch needs an exclusive lock, and SQLite reports
    "database is locked" at once -- without waiting out busy_timeout -- when another process
    opening the same new store holds a read lock: retry until one of us has switched it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _apply_missing(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
    _refuse_unknown(conn, path, version)
    for number in range(version, SCHEMA_VERSION):
        for statement in _statements(MIGRATIONS[number]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _refuse_unknown(conn: sqlite3.Connection, path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this queuectl understands "
            f"({SCHEMA_VERSION}); upgrade queuectl"
        )
    if version == 0:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - OUR_TABLES:
            raise StoreError(f"{path} is an SQLite database but not a queuectl store")


def _statements(script: str) -> list[str]:
    """Split a migration into statements (sqlite3.complete_statement keeps triggers whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def describe(exc: sqlite3.Error, path: Path) -> str:
    text = str(exc)
    if "file is not a database" in text:
        return f"{path} is not a queuectl store (not an SQLite database)"
    if "readonly" in text or "read-only" in text:
        return f"{path} is read-only: {text}"
    if "unable to open" in text or "disk I/O error" in text:
        return f"cannot open {path}: {_why_unwritable(path) or text}"
    return f"store {path}: {text}"


def _why_unwritable(path: Path) -> str | None:
    """SQLite only says "unable to open": name the usual cause (it needs -wal/-shm beside the file)."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "the file system is read-only"
        if os.statvfs(path.parent).f_bavail == 0:
            return "the disk is full"
    except OSError:
        return None
    if not os.access(path.parent, os.W_OK):
        return f"the folder {path.parent} is not writable (SQLite creates -wal and -shm files there)"
    return None


def open_sync(path: Path) -> sqlite3.Connection:
    """A configured, migrated synchronous connection (autocommit; explicit transactions)."""
    prepare_file(path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        configure(conn)
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    migrate(conn, path)
    return conn
