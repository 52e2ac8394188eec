"""Flow control on PostgreSQL (issue 10, DECISIONS.md §6): its part of schema 2 and the SQL of
its verbs. No driver import here.

- the claim is one call of queuectl_claim(): it locks the limited queues it may take from (in
  name order, so claimers queue up instead of deadlocking), then claims in a second statement
  whose fresh snapshot counts what the previous holder of the lock committed;
- `after` is resolved by a statement trigger in the very statement that ends a dependency
  (completed: its dependents wait for one fewer; dead: the chain below it is buried);
- queue settings change under a SHARE ROW EXCLUSIVE lock on jobs, so no insert or claim runs
  between the new setting and the jobs' `gated` flag that mirrors it.
"""

_DUE = "state IN ('pending', 'failed')"
# The claim's two sources of candidates, both index heads in claim order (no sort of a queue)
UNGATED_HEAD = f"""
            SELECT seq, priority, run_at FROM jobs
            WHERE p_served IS NULL AND {_DUE} AND NOT gated AND waiting = 0
              AND run_at <= p_now
            ORDER BY priority DESC, run_at, seq LIMIT p_limit
            FOR UPDATE SKIP LOCKED"""
QUEUE_HEADS = f"""
            SELECT c.seq, c.priority, c.run_at FROM open o CROSS JOIN LATERAL (
                SELECT x.seq, x.priority, x.run_at FROM jobs x
                WHERE x.queue = o.name AND x.waiting = 0 AND x.{_DUE} AND x.run_at <= p_now
                ORDER BY x.priority DESC, x.run_at, x.seq LIMIT greatest(o.free, 0)
                FOR UPDATE SKIP LOCKED) c"""

MIGRATION = f"""
    -- flow control: see queuectl/store/postgres_flow_schema.py
    ALTER TABLE jobs
        ADD COLUMN gated          boolean NOT NULL DEFAULT false,
        ADD COLUMN waiting        integer NOT NULL DEFAULT 0,
        ADD COLUMN has_dependents boolean NOT NULL DEFAULT false;
    DROP INDEX jobs_due;
    CREATE INDEX jobs_due ON jobs (priority DESC, run_at, seq)
        WHERE {_DUE} AND NOT gated AND waiting = 0;
    DROP INDEX jobs_next_due;
    CREATE INDEX jobs_next_due ON jobs (run_at) WHERE {_DUE} AND NOT gated AND waiting = 0;
    CREATE INDEX jobs_queue_due ON jobs (queue, waiting, priority DESC, run_at, seq)
        WHERE {_DUE};
    CREATE INDEX jobs_running ON jobs (queue) WHERE state = 'processing';
    CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
        WHERE unique_key IS NOT NULL AND state IN ('pending', 'failed', 'processing');

    CREATE TABLE queues (
        name        text PRIMARY KEY,
        paused      boolean NOT NULL DEFAULT false,
        max_running integer NOT NULL DEFAULT 0
    );
    CREATE INDEX queues_limited ON queues (name) WHERE max_running > 0 AND NOT paused;
    CREATE TABLE job_deps (
        dep_id text NOT NULL,
        job_id text NOT NULL,
        PRIMARY KEY (dep_id, job_id)
    );
    CREATE TABLE schedules (
        name       text PRIMARY KEY,
        cron       text NOT NULL,
        zone       text NOT NULL,
        job        text NOT NULL,
        next_run   bigint,
        last_run   bigint,
        created_at bigint NOT NULL
    );
    CREATE INDEX schedules_due ON schedules (next_run);

    CREATE FUNCTION queuectl_claim(p_worker text, p_now bigint, p_limit integer,
                                   p_served text[]) RETURNS SETOF jobs
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
    BEGIN
        PERFORM 1 FROM queues WHERE max_running > 0 AND NOT paused
            AND (p_served IS NULL OR name = ANY (p_served))
            ORDER BY name FOR UPDATE;
        RETURN QUERY
        WITH open AS (
            SELECT n.name, CASE WHEN coalesce(q.max_running, 0) > 0
                THEN q.max_running - (SELECT count(*)::int FROM jobs r
                                      WHERE r.queue = n.name AND r.state = 'processing')
                ELSE p_limit END AS free
            FROM (SELECT name FROM queues
                  WHERE p_served IS NULL AND max_running > 0 AND NOT paused
                  UNION SELECT unnest(p_served)) n
            LEFT JOIN queues q ON q.name = n.name
            WHERE NOT coalesce(q.paused, false)
        ), ungated AS ({UNGATED_HEAD}
        ), per_queue AS ({QUEUE_HEADS}
        ), picked AS (
            SELECT seq FROM (SELECT * FROM ungated UNION ALL SELECT * FROM per_queue) c
            ORDER BY priority DESC, run_at, seq LIMIT p_limit
        )
        UPDATE jobs j SET state = 'processing', worker_id = p_worker,
               attempts = j.attempts + 1, run_no = j.run_no + 1, started_at = p_now,
               updated_at = p_now, pid = NULL
        FROM picked WHERE j.seq = picked.seq
        RETURNING j.*;
    END
    $fn$;

    -- Runs after every UPDATE of jobs: the jobs that just ended and have dependents release
    -- (completed) or bury (dead) them, in the statement's own transaction. Its own updates
    -- fire it again, one level deeper, and find nothing left to do.
    CREATE FUNCTION queuectl_resolve_deps() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $fn$
    DECLARE
        stamp bigint;
    BEGIN
        SELECT max(updated_at) INTO stamp FROM new_rows
        WHERE has_dependents AND state IN ('completed', 'dead');
        IF stamp IS NULL THEN
            RETURN NULL;
        END IF;
        WITH released AS (
            DELETE FROM job_deps d USING new_rows n
            WHERE d.dep_id = n.id AND n.has_dependents AND n.state = 'completed'
            RETURNING d.job_id
        )
        UPDATE jobs j SET waiting = greatest(j.waiting - r.n, 0)
        FROM (SELECT job_id, count(*)::int AS n FROM released GROUP BY job_id) r
        WHERE j.id = r.job_id;
        WITH RECURSIVE doomed (job_id, cause) AS (
            SELECT d.job_id, d.dep_id FROM job_deps d JOIN new_rows n ON d.dep_id = n.id
            WHERE n.has_dependents AND n.state = 'dead'
            UNION
            SELECT d.job_id, d.dep_id FROM job_deps d JOIN doomed ON d.dep_id = doomed.job_id
        ), gone AS (
            DELETE FROM job_deps d USING doomed
            WHERE d.dep_id = doomed.cause AND d.job_id = doomed.job_id
        )
        UPDATE jobs j SET state = 'dead', last_error = 'dependency ' || c.cause || ' failed',
               updated_at = stamp, waiting = 0
        FROM (SELECT DISTINCT ON (job_id) job_id, cause FROM doomed ORDER BY job_id, cause) c
        WHERE j.id = c.job_id AND j.{_DUE};
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER jobs_resolve_deps AFTER UPDATE ON jobs REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION queuectl_resolve_deps();
"""

CLAIM = "SELECT {columns}, seq FROM queuectl_claim($1, $2, $3, $4)"

# Queue settings: the lock keeps inserts and claims out until the `gated` flags agree.
LOCK_JOBS = "LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE"
ENSURE_QUEUES = "INSERT INTO queues (name) SELECT unnest($1::text[]) ON CONFLICT (name) DO NOTHING"
SET_PAUSED = "UPDATE queues SET paused = $2 WHERE name = ANY($1::text[])"
SET_LIMIT = "UPDATE queues SET max_running = $2 WHERE name = ANY($1::text[])"
# migrate-store: the source's settings win over the target's
IMPORT_QUEUES = """
INSERT INTO queues (name, paused, max_running)
SELECT * FROM unnest($1::text[], $2::bool[], $3::int[])
ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, max_running = excluded.max_running
"""
REGATE = """
UPDATE jobs j SET gated = (q.paused OR q.max_running > 0)
FROM queues q
WHERE q.name = ANY($1::text[]) AND j.queue = q.name
  AND j.state IN ('pending', 'failed', 'processing')  -- a running job may come back (rescue)
  AND j.gated <> (q.paused OR q.max_running > 0)
"""
# the count rows the trigger keeps (schema 3), summed over shards: no job is read
QUEUE_COUNTS = "SELECT queue, state, sum(n) FROM queue_counts GROUP BY queue, state HAVING sum(n) <> 0"
QUEUE_SETTINGS = "SELECT name, paused, max_running FROM queues ORDER BY name"
PAUSED = "SELECT name FROM queues WHERE paused"
QUEUE_RUNNABLE = f"""
SELECT (SELECT count(*) FROM jobs WHERE queue = $1 AND {_DUE}),
       (SELECT count(*) FROM jobs WHERE queue = $1 AND state = 'processing')
"""
ANY_LIMITED = "SELECT EXISTS (SELECT 1 FROM queues WHERE max_running > 0 AND NOT paused)"

# Enqueue with unique keys or dependencies (one transaction; the plain path stays one statement)
LOCK_DEPENDENCIES = """
UPDATE jobs SET has_dependents = true WHERE id = ANY($1::text[]) RETURNING id, state
"""
GET_JOBS = "SELECT {columns} FROM jobs WHERE id = ANY($1::text[])"
HOLDER = "SELECT {columns} FROM jobs WHERE unique_key = $1 AND state IN ('pending', 'failed', 'processing')"
# Three statements: a job of a chain is both a dependency (marked) and a dependent (waiting),
# and one statement cannot update a row twice.
ADD_EDGES = """
INSERT INTO job_deps (dep_id, job_id) SELECT * FROM unnest($1::text[], $2::text[])
ON CONFLICT DO NOTHING
"""
LIST_EDGES = 'SELECT dep_id, job_id FROM job_deps ORDER BY dep_id COLLATE "C", job_id COLLATE "C"'
MARK_DEPENDENCIES = "UPDATE jobs SET has_dependents = true WHERE id = ANY($1::text[]) AND NOT has_dependents"
SET_WAITING = """
UPDATE jobs j SET waiting = w.n FROM unnest($1::text[], $2::int[]) AS w (id, n) WHERE j.id = w.id
"""
BURY = """
UPDATE jobs j SET state = 'dead', last_error = 'dependency ' || b.dep || ' failed',
       updated_at = $3, waiting = 0
FROM unnest($1::text[], $2::text[]) AS b (id, dep)
WHERE j.id = b.id AND j.state IN ('pending', 'failed')
"""

# Schedules: firing is a compare-and-set on next_run plus the run's insert, in one transaction
ADD_SCHEDULE = """
INSERT INTO schedules (name, cron, zone, job, next_run, last_run, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING
"""
REMOVE_SCHEDULE = "DELETE FROM schedules WHERE name = $1"
LIST_SCHEDULES = "SELECT {columns} FROM schedules ORDER BY name COLLATE \"C\""
DUE_SCHEDULES = "SELECT {columns} FROM schedules WHERE next_run <= $1 ORDER BY next_run, name"
MOVE_SCHEDULE = """
UPDATE schedules SET next_run = $2, last_run = $3 WHERE name = $1 AND next_run = $4
"""
JOB_EXISTS = "SELECT 1 FROM jobs WHERE id = $1"
