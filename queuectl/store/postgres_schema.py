"""PostgreSQL schema: versioned migrations and the SQL of the store verbs (no driver import here).

Times are bigint epoch milliseconds, as in SQLite, so both backends print byte-identical JSON.
Every table lives in one schema (the URL's `?schema=NAME`, else the connection's current
schema), so one database can hold several independent queues.
"""

from . import postgres_flow_schema as flow
from . import rows

# Migrations, applied in order under an advisory lock; schema_version holds how many ran.
MIGRATIONS: tuple[str, ...] = (
    # 1: jobs, attempt history with output, workers, config, sharded counts per state
    """
    CREATE TABLE jobs (
        seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id          text NOT NULL UNIQUE,
        command     text NOT NULL,
        state       text NOT NULL
                    CHECK (state IN ('pending', 'processing', 'completed', 'failed', 'dead')),
        attempts    integer NOT NULL DEFAULT 0,
        max_retries bigint NOT NULL,
        priority    bigint NOT NULL DEFAULT 0,
        run_at      bigint NOT NULL,
        timeout     double precision,
        exit_code   integer,
        last_error  text,
        created_at  bigint NOT NULL,
        updated_at  bigint NOT NULL,
        worker_id   text,
        started_at  bigint,
        run_no      integer NOT NULL DEFAULT 0,
        pid         integer
    );
    -- the claim walks this index in order and stops after LIMIT due, unlocked rows
    CREATE INDEX jobs_due ON jobs (priority DESC, run_at, seq) WHERE state IN ('pending', 'failed');
    -- next_due_at is min(run_at): one index probe instead of a scan of every due job
    CREATE INDEX jobs_next_due ON jobs (run_at) WHERE state IN ('pending', 'failed');
    -- list --state, the rescuer (processing jobs) and claim recovery
    CREATE INDEX jobs_state ON jobs (state, seq);

    CREATE TABLE attempts (
        job_id      text NOT NULL,  -- written only through the guarded update of its job: no FK
        n           integer NOT NULL,
        worker_id   text,
        started_at  bigint NOT NULL,
        finished_at bigint NOT NULL,
        ok          boolean NOT NULL,
        exit_code   integer,
        error       text,
        duration    double precision,
        stdout      bytea,
        stderr      bytea,
        PRIMARY KEY (job_id, n)
    );
    -- status metrics read only this index (index-only scans), never the output
    CREATE INDEX attempts_finished ON attempts (finished_at) INCLUDE (ok, duration);

    CREATE TABLE workers (
        id             text PRIMARY KEY,
        pid            integer NOT NULL,
        host           text NOT NULL,
        concurrency    integer NOT NULL,
        started_at     bigint NOT NULL,
        heartbeat_at   bigint NOT NULL,
        running        integer NOT NULL DEFAULT 0,
        stop_requested boolean NOT NULL DEFAULT false
    );

    CREATE TABLE config (key text PRIMARY KEY, value text NOT NULL);

    -- Counts per state without one hot row: each backend adds its deltas to its own shard
    -- (backend pid mod 16), once per statement (transition tables), rows locked in state
    -- order. count_by_state sums at most 5 x 16 rows.
    CREATE TABLE job_counts (
        state text NOT NULL,
        shard integer NOT NULL,
        n     bigint NOT NULL,
        PRIMARY KEY (state, shard)
    );

    CREATE FUNCTION queuectl_count_jobs() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $fn$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO job_counts AS c (state, shard, n)
            SELECT state, pg_backend_pid() % 16, count(*) FROM new_rows GROUP BY state ORDER BY state
            ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSIF TG_OP = 'UPDATE' THEN
            INSERT INTO job_counts AS c (state, shard, n)
            SELECT state, pg_backend_pid() % 16, sum(d)
            FROM (SELECT state, 1 AS d FROM new_rows UNION ALL SELECT state, -1 FROM old_rows) x
            GROUP BY state HAVING sum(d) <> 0 ORDER BY state
            ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
        ELSE
            INSERT INTO job_counts AS c (state, shard, n)
            SELECT state, pg_backend_pid() % 16, -count(*) FROM old_rows GROUP BY state ORDER BY state
            ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
        END IF;
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_jobs();
    CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_jobs();
    CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION queuectl_count_jobs();
    """,
    # 2: Part 2 (CLI.md "More job fields"). Every Part 2 change adds to this one migration.
    # NULL batch/cwd/env/after_ids = a job enqueued before Part 2 / none.
    """
    ALTER TABLE jobs
        ADD COLUMN queue      text NOT NULL DEFAULT 'default',
        ADD COLUMN batch      text,
        ADD COLUMN cwd        text,
        ADD COLUMN env        text,  -- JSON object
        ADD COLUMN unique_key text,
        ADD COLUMN after_ids  text;  -- JSON array of job ids
    -- list/wait/purge --batch, in enqueue order
    CREATE INDEX jobs_batch ON jobs (batch, seq);
    -- the dashboard's job list by queue, newest first: written by an insert only, never by a
    -- claim or a finish (the queue of a job does not change)
    CREATE INDEX jobs_queue ON jobs (queue, seq);
    -- purge and retention: the oldest finished jobs first, never a scan of the live ones
    CREATE INDEX jobs_finished ON jobs (state, updated_at) WHERE state IN ('completed', 'dead');
    -- cancel and live output (i9b)
    -- cancel: set on a processing job; its worker stops it and sends it to dead (cancelled)
    ALTER TABLE jobs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
    -- the heartbeat's "which of my jobs were cancelled?" reads only the jobs being cancelled
    CREATE INDEX jobs_cancel ON jobs (worker_id) WHERE cancel_requested;
    -- a running attempt's output, written while it runs (logs --follow); pos is the byte
    -- position in its stream (1 stdout, 2 stderr); seq orders one attempt's pieces as stored
    -- (one worker writes them, one transaction after the other)
    CREATE TABLE output_chunks (
        seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id  text NOT NULL,
        run_no  integer NOT NULL,
        stream  smallint NOT NULL,
        pos     bigint NOT NULL,
        data    bytea NOT NULL,
        UNIQUE (job_id, run_no, stream, pos)
    );
    CREATE INDEX output_chunks_read ON output_chunks (job_id, run_no, seq);
    """ + flow.MIGRATION,
    # 3: the counts per queue as well as per state (SQLite's schema 4): `queue list` and the
    # dashboard read queue_counts instead of a GROUP BY over every job. The same
    # statement-level trigger writes both tables (one more upsert per statement, not per row),
    # so count_by_state, which `wait` and --drain poll, still sums at most 5 x 16 rows rather
    # than queues x 5 x 16 (27 ms at 1,000 busy queues).
    """
    CREATE TABLE queue_counts (
        queue text NOT NULL,
        state text NOT NULL,
        shard integer NOT NULL,
        n     bigint NOT NULL,
        PRIMARY KEY (queue, state, shard)
    );
    INSERT INTO queue_counts (queue, state, shard, n)
        SELECT queue, state, 0, count(*) FROM jobs GROUP BY queue, state;
    CREATE OR REPLACE FUNCTION queuectl_count_jobs() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $fn$
    DECLARE
        qs text[]; ss text[]; ns bigint[];  -- the statement's deltas per (queue, state)
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(queue ORDER BY queue, state), array_agg(state ORDER BY queue, state),
                   array_agg(n ORDER BY queue, state) INTO qs, ss, ns
            FROM (SELECT queue, state, count(*) AS n FROM new_rows GROUP BY queue, state) d;
        ELSIF TG_OP = 'UPDATE' THEN
            SELECT array_agg(queue ORDER BY queue, state), array_agg(state ORDER BY queue, state),
                   array_agg(n ORDER BY queue, state) INTO qs, ss, ns
            FROM (SELECT queue, state, sum(d) AS n
                  FROM (SELECT queue, state, 1 AS d FROM new_rows
                        UNION ALL SELECT queue, state, -1 FROM old_rows) x
                  GROUP BY queue, state HAVING sum(d) <> 0) d;
        ELSE
            SELECT array_agg(queue ORDER BY queue, state), array_agg(state ORDER BY queue, state),
                   array_agg(n ORDER BY queue, state) INTO qs, ss, ns
            FROM (SELECT queue, state, -count(*) AS n FROM old_rows GROUP BY queue, state) d;
        END IF;
        IF qs IS NULL THEN
            RETURN NULL;  -- no state changed
        END IF;
        -- rows locked in (queue, state) order, then in state order: no two statements deadlock
        INSERT INTO queue_counts AS c (queue, state, shard, n)
        SELECT q, s, pg_backend_pid() % 16, n FROM unnest(qs, ss, ns) AS t (q, s, n)
        ON CONFLICT (queue, state, shard) DO UPDATE SET n = c.n + excluded.n;
        INSERT INTO job_counts AS c (state, shard, n)
        SELECT s, pg_backend_pid() % 16, sum(n) FROM unnest(ss, ns) AS t (s, n)
        GROUP BY s HAVING sum(n) <> 0 ORDER BY s
        ON CONFLICT (state, shard) DO UPDATE SET n = c.n + excluded.n;
        RETURN NULL;
    END
    $fn$;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
OUR_TABLES = ("jobs", "attempts", "workers", "config", "job_counts", "queues", "job_deps",
              "schedules", "output_chunks", "queue_counts")

READ_VERSION = "SELECT version FROM schema_version"
CREATE_VERSION_TABLE = (
    "CREATE TABLE schema_version (version integer NOT NULL); "
    "INSERT INTO schema_version (version) VALUES (0)"
)

JOB_COLUMNS = rows.JOB_COLUMNS

# One statement inserts a whole batch in input order (seq follows the ordinality) and tells
# every listening worker; the notification is delivered at commit.
_INSERT_JOBS = """
WITH ins AS (
    INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout,
                      created_at, updated_at, queue, batch, cwd, env, unique_key, after_ids,
                      gated)
    SELECT id, command, 'pending', max_retries, priority, run_at, timeout, $7, $7,
           queue, batch, cwd, env, unique_key, after_ids,
           coalesce((SELECT q.paused OR q.max_running > 0 FROM queues q WHERE q.name = t.queue),
                    false)
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                $6::float8[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                $14::text[])
        WITH ORDINALITY AS t (id, command, max_retries, priority, run_at, timeout, queue,
                              batch, cwd, env, unique_key, after_ids, ord)
    ORDER BY ord
    -- a job whose unique key an unfinished job holds is skipped (waiting for a concurrent
    -- inserter of the same key to commit or roll back first), not an error
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
        AND state IN ('pending', 'failed', 'processing') DO NOTHING
    RETURNING id
)
"""
INSERT_JOBS = _INSERT_JOBS + "SELECT count(*), pg_notify($8, 'jobs') FROM ins"
INSERT_JOBS_IDS = _INSERT_JOBS + "SELECT array_agg(id), pg_notify($8, 'jobs') FROM ins"
# After an ambiguous failure (connection lost around the commit): which of our rows landed?
# (id, command and the enqueue's own millisecond: another enqueue's row cannot match all three)
OUR_INSERT_LANDED = """
SELECT j.id FROM jobs j
JOIN unnest($1::text[], $2::text[]) AS t (id, command) ON j.id = t.id AND j.command = t.command
WHERE j.created_at = $3
"""
EXISTING_IDS = "SELECT id FROM jobs WHERE id = ANY($1::text[])"

HELD_BY = f"SELECT {JOB_COLUMNS}, seq FROM jobs WHERE state = 'processing' AND worker_id = $1"


# Group commit in one round trip: the guarded update and the attempt rows of exactly the jobs
# whose guard held (id, state 'processing', worker, run_no), as SQLite's GUARD.
_FINISH = """
WITH f AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[],
                         $6::bigint[], $7::bigint[], $8::bool[], $9::int[], $10::text[],
                         $11::float8[], $12::bytea[], $13::bytea[])
        AS f (id, worker, run_no, state, run_at, started_at, finished_at, ok, exit_code, error,
              duration, stdout, stderr)
), done AS (
    UPDATE jobs j SET
           state = CASE WHEN j.cancel_requested AND f.state <> 'completed' THEN 'dead'
                        ELSE f.state END,
           run_at = COALESCE(f.run_at, j.run_at), exit_code = f.exit_code,
           last_error = CASE WHEN j.cancel_requested AND f.state <> 'completed' THEN 'cancelled'
                             ELSE f.error END,
           updated_at = $14, worker_id = NULL, started_at = NULL, pid = NULL,
           cancel_requested = false
    FROM f
    WHERE j.id = f.id AND j.state = 'processing' AND j.worker_id = f.worker
      AND j.run_no = f.run_no
    RETURNING j.id, j.run_no, j.has_dependents
), recorded AS (
    INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, error,
                          duration, stdout, stderr)
    SELECT f.id, f.run_no, f.worker, f.started_at, f.finished_at, f.ok, f.exit_code, f.error,
           f.duration, f.stdout, f.stderr
    FROM f JOIN done ON done.id = f.id AND done.run_no = f.run_no
    RETURNING 1
)
"""
# Idle workers are told when a retry is due ($15), dependents were released or a limited
# queue's slot freed (flow control); otherwise a finish notifies nobody.
FINISH = _FINISH + """
SELECT count(*), CASE WHEN $15::bool OR EXISTS (SELECT 1 FROM done WHERE done.has_dependents)
                       OR EXISTS (SELECT 1 FROM queues WHERE max_running > 0 AND NOT paused)
                  THEN pg_notify($16, 'jobs') END
FROM recorded
"""

REQUEUE = """
WITH r AS (
    UPDATE jobs j SET state = 'pending', attempts = j.attempts - 1, run_no = j.run_no - 1,
           updated_at = $4, worker_id = NULL, started_at = NULL, pid = NULL
    FROM unnest($2::text[], $3::int[]) AS r (rid, rrun)
    WHERE j.id = r.rid AND j.state = 'processing' AND j.worker_id = $1 AND j.run_no = r.rrun
      AND NOT j.cancel_requested
    RETURNING 1
)
SELECT count(*), pg_notify($5, 'jobs') FROM r
"""

DELETE_DEAD_WORKERS = """
DELETE FROM workers w USING unnest($1::text[], $2::bigint[]) AS d (id, hb)
WHERE w.id = d.id AND w.heartbeat_at = d.hb
"""
# Every job held by a worker with no row goes back to the queue, the lost attempt counted and
# recorded. Safe with many rescuers at once: each locks the rows it rescues (SKIP LOCKED), the
# update re-checks the attempt it saw, and the attempt row is written once.
RESCUE = """
WITH lost AS (
    SELECT seq, worker_id, started_at, run_no FROM jobs
    WHERE state = 'processing'
      AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = jobs.worker_id)
    ORDER BY seq
    FOR UPDATE SKIP LOCKED
), rescued AS (
    UPDATE jobs j SET
           state = CASE WHEN j.cancel_requested OR j.attempts > j.max_retries THEN 'dead'
                        ELSE 'pending' END,
           run_at = $1, updated_at = $1, exit_code = NULL,
           last_error = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'worker lost' END,
           worker_id = NULL, started_at = NULL, pid = NULL, cancel_requested = false
    FROM lost
    WHERE j.seq = lost.seq AND j.state = 'processing' AND j.run_no = lost.run_no
    RETURNING j.seq, j.id, j.state, lost.worker_id, lost.started_at, lost.run_no
), recorded AS (
    INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, error)
    SELECT id, run_no, worker_id, COALESCE(started_at, $1), $1, false, 'worker lost' FROM rescued
    ON CONFLICT (job_id, n) DO NOTHING
), dropped AS (  -- the lost attempt's streamed pieces: its run_no is never written again
    DELETE FROM output_chunks c USING rescued r WHERE c.job_id = r.id AND c.run_no = r.run_no
)
SELECT id, worker_id, state FROM rescued ORDER BY seq
"""

RETRY_ALL_DEAD = """
UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, updated_at = $1,
       exit_code = NULL, last_error = NULL, cancel_requested = false,
       gated = coalesce((SELECT q.paused OR q.max_running > 0 FROM queues q
                         WHERE q.name = jobs.queue), false)
WHERE state = 'dead'
RETURNING id, seq
"""
LOCK_NAMED = "SELECT id, state, attempts, updated_at FROM jobs WHERE id = ANY($1::text[]) FOR UPDATE"
RETRY_NAMED = """
UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, updated_at = $2,
       exit_code = NULL, last_error = NULL, cancel_requested = false,
       gated = coalesce((SELECT q.paused OR q.max_running > 0 FROM queues q
                         WHERE q.name = jobs.queue), false)
WHERE id = ANY($1::text[]) AND state = 'dead'
"""

GET_JOB = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"


def page_query(*, state: bool, batch: bool) -> str:
    """One page of jobs in enqueue order after seq $1, $2 rows, filtered by state $3 and/or
    batch ($3, or $4 when both)."""
    where = ["seq > $1"] + (["state = $3"] if state else [])
    if batch:
        where.append(f"batch = ${3 + state}")
    return f"SELECT {JOB_COLUMNS}, seq FROM jobs WHERE {' AND '.join(where)} ORDER BY seq LIMIT $2"


ACTIVITY = """
SELECT (finished_at - $1) / 60000, count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
       sum(duration), count(duration)
FROM attempts WHERE finished_at >= $1 AND finished_at < $2 GROUP BY 1
"""
COUNTS = "SELECT state, sum(n)::bigint FROM job_counts GROUP BY state"
NEXT_DUE = (
    "SELECT min(run_at) FROM jobs WHERE state IN ('pending', 'failed') AND NOT gated AND waiting = 0"
)
ATTEMPTS = (
    "SELECT n, worker_id, started_at, finished_at, exit_code, error, duration "
    "FROM attempts WHERE job_id = $1 ORDER BY n"
)
LATEST_OUTPUT = "SELECT n, stdout, stderr FROM attempts WHERE job_id = $1 ORDER BY n DESC LIMIT 1"
OUTPUT_OF = "SELECT n, stdout, stderr FROM attempts WHERE job_id = $1 AND n = $2"
METRICS = """
SELECT count(*) FILTER (WHERE ok AND finished_at >= $1),
       count(*) FILTER (WHERE NOT ok AND finished_at >= $1),
       count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
       avg(duration), count(duration)
FROM attempts WHERE finished_at >= $2
"""
P95 = (
    "SELECT duration FROM attempts WHERE finished_at >= $1 AND duration IS NOT NULL "
    "ORDER BY duration LIMIT 1 OFFSET $2"
)

GET_CONFIG = "SELECT key, value FROM config"
GET_MAX_RETRIES = "SELECT value FROM config WHERE key = 'max-retries'"
SET_CONFIG = (
    "INSERT INTO config (key, value) VALUES ($1, $2) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

WORKER_COLUMNS = "id, pid, host, concurrency, started_at, heartbeat_at, running, stop_requested"
REGISTER_WORKER = f"""
INSERT INTO workers ({WORKER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
    concurrency = excluded.concurrency, started_at = excluded.started_at,
    heartbeat_at = excluded.heartbeat_at, running = excluded.running,
    stop_requested = excluded.stop_requested
"""
HEARTBEAT = """
UPDATE workers SET heartbeat_at = $1, running = $2 WHERE id = $3
RETURNING stop_requested, ARRAY(SELECT id FROM jobs WHERE worker_id = $3 AND cancel_requested)
"""
DEREGISTER = "DELETE FROM workers WHERE id = $1"
# Ties on started_at break by id byte by byte, as SQLite does: the database's default
# collation (often en_US, where 'alpha' < 'Zeta') would order `worker list` differently.
LIST_WORKERS = f'SELECT {WORKER_COLUMNS} FROM workers ORDER BY started_at, id COLLATE "C"'
REQUEST_STOP = """
WITH s AS (UPDATE workers SET stop_requested = true RETURNING id)
SELECT s.id, pg_notify($1, 'stop') FROM s
"""
NOTIFY = "SELECT pg_notify($1, $2)"

# migrate-store: rows written as they are (seq follows the order given)
IMPORT_JOBS = """
INSERT INTO jobs (id, command, state, attempts, max_retries, priority, run_at, timeout,
                  exit_code, last_error, created_at, updated_at, worker_id, started_at, run_no,
                  queue, batch, cwd, env, unique_key, after_ids)
SELECT id, command, state, attempts, max_retries, priority, run_at, timeout, exit_code,
       last_error, created_at, updated_at, worker_id, started_at, run_no,
       queue, batch, cwd, env, unique_key, after_ids
FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[],
            $7::bigint[], $8::float8[], $9::int[], $10::text[], $11::bigint[], $12::bigint[],
            $13::text[], $14::bigint[], $15::int[], $16::text[], $17::text[], $18::text[],
            $19::text[], $20::text[], $21::text[])
    WITH ORDINALITY AS t (id, command, state, attempts, max_retries, priority, run_at, timeout,
                          exit_code, last_error, created_at, updated_at, worker_id, started_at,
                          run_no, queue, batch, cwd, env, unique_key, after_ids, ord)
ORDER BY ord
"""
IMPORT_ATTEMPTS = """
INSERT INTO attempts (job_id, n, worker_id, started_at, finished_at, ok, exit_code, error,
                      duration, stdout, stderr)
SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bool[],
                     $7::int[], $8::text[], $9::float8[], $10::bytea[], $11::bytea[])
"""
