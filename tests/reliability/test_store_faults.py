"""Attack 5: store faults. Every command must fail with one clear line and exit 1, never
lose a job it acknowledged, and a worker must stop (exit 1) instead of spinning.

Read-only and full filesystems are real: a small tmpfs mounted for the test (root only);
without root the full-disk case falls back to RLIMIT_FSIZE and the read-only case is skipped.
"""

import contextlib
import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import alive, counts, db_query, one_error_line, wait_until


@contextlib.contextmanager
def tmpfs(where: Path, size: str):
    where.mkdir()
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                         str(where)], capture_output=True)
    if cp.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {cp.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def remount(where: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(where)], check=True)


def fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as f:
        for size in (65536, 4096, 512):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * size)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- read-only ---------------------------------------------------------------------------


def test_read_only_store_fails_clearly_and_keeps_its_jobs(rq, tmp_path, figures):
    with tmpfs(tmp_path / "ro", "8m") as mnt:
        db = mnt / "q.db"
        rq.enqueue_many([{"id": "a", "command": "true"}, {"id": "b", "command": "true"}], db=db)
        remount(mnt, "ro")
        cp = rq.run("enqueue", "echo more", db=db)
        assert cp.returncode == 1, cp
        line = one_error_line(cp.stderr)
        assert "read-only" in line.lower(), line  # sqlite_schema.describe names the cause
        status = rq.run("status", "--json", db=db)  # reading may work or fail, but clearly
        if status.returncode:
            one_error_line(status.stderr)
        t0 = time.monotonic()
        worker = rq.run("worker", "start", "--drain", db=db, timeout=30)
        took = time.monotonic() - t0
        assert worker.returncode == 1, worker
        assert "read-only" in worker.stderr.lower() or "readonly" in worker.stderr.lower()
        assert "Traceback" not in worker.stderr
        remount(mnt, "rw")
        assert counts(db)["pending"] == 2
        figures.record("store-read-only", enqueue_exit=cp.returncode, status_exit=status.returncode,
                       worker_exit=worker.returncode, worker_stopped_after_s=round(took, 2),
                       jobs_lost=0)


def test_new_store_in_a_read_only_folder(rq, tmp_path):
    with tmpfs(tmp_path / "ro", "1m") as mnt:
        remount(mnt, "ro")
        for db in (mnt / "q.db", mnt / "missing" / "q.db"):
            cp = rq.run("status", db=db)
            assert cp.returncode == 1, cp
            assert "cannot create" in one_error_line(cp.stderr)


# -- full disk ---------------------------------------------------------------------------


def test_full_disk_enqueue_fails_clearly_and_acknowledged_jobs_survive(rq, tmp_path, figures):
    with tmpfs(tmp_path / "full", "4m") as mnt:
        db = mnt / "q.db"
        acknowledged = rq.enqueue_many([{"id": f"a{i}", "command": "true"} for i in range(50)],
                                       db=db)
        filler = mnt / "filler"
        fill(filler)
        failures = []
        for i in range(20):  # until the store's free pages run out too
            cp = rq.run("enqueue", "--id", f"x{i}", "echo " + "y" * 20000, db=db)
            if cp.returncode == 0:
                acknowledged.append(cp.stdout.strip())
            else:
                failures.append(cp)
                break
        assert failures, "the disk never filled"
        assert failures[0].returncode == 1
        line = one_error_line(failures[0].stderr)
        assert "full" in line or "disk" in line, line
        filler.unlink()
        ids = {r[0] for r in db_query(db, "SELECT id FROM jobs")}
        assert set(acknowledged) <= ids, "an acknowledged job was lost"
        assert rq.run("enqueue", "echo after", db=db).returncode == 0
        figures.record("store-disk-full-enqueue", tmpfs="4 MiB", acknowledged=len(acknowledged),
                       lost=len(set(acknowledged) - ids), error=line)


def test_full_disk_under_a_running_worker_stops_it_and_the_job_is_rescued(rq, tmp_path, figures):
    with tmpfs(tmp_path / "full", "3m") as mnt:
        db = mnt / "q.db"
        rq.ok("config", "set", "output-limit", "2000000", db=db)
        rq.ok("enqueue", '{"id": "big", "command": "sleep 1; head -c 900000 /dev/zero | tr \\"\\\\0\\" x"}',
              db=db)
        worker = rq.worker(db=db)
        wait_until(lambda: counts(db)["processing"] == 1, 15, message="the job claimed")
        filler = mnt / "filler"
        fill(filler)
        t0 = time.monotonic()
        code = worker.wait(30)
        stopped_after = time.monotonic() - t0
        assert code == 1, worker.log()
        log = worker.log()
        assert "Traceback" not in log and "error: " in log and "full" in log, log
        assert counts(db)["processing"] == 1  # not lost: still held, for the rescuer
        filler.unlink()
        t1 = time.monotonic()
        rq.ok("worker", "start", "--drain", db=db, timeout=60)
        rescued_after = time.monotonic() - t1
        history = db_query(db, "SELECT n, error FROM attempts WHERE job_id = 'big' ORDER BY n")
        assert counts(db)["completed"] == 1
        assert history[0][1] == "worker lost" and history[-1][1] is None, history
        figures.record("store-disk-full-worker", worker_exit=code,
                       worker_stopped_after_s=round(stopped_after, 2),
                       rescued_and_completed_after_s=round(rescued_after, 2), lost=0)


def test_file_size_limit_fallback(rq, tmp_path):
    """Without a tmpfs: RLIMIT_FSIZE makes writes fail with EFBIG; same contract."""
    db = tmp_path / "limited.db"
    rq.ok("enqueue", "true", db=db)

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        size = db.stat().st_size + 8192
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    env = dict(rq.env, QUEUECTL_DB=str(db))
    cp = subprocess.run([rq.env and __import__("shutil").which("queuectl", path=os.path.dirname(
        __import__("sys").executable)) or "queuectl", "enqueue", "--file", "-"],
        input=("".join(f'{{"command": "echo {"z" * 5000}"}}\n' for _ in range(200))).encode(),
        capture_output=True, env=env, preexec_fn=limit, timeout=60)
    assert cp.returncode == 1, cp
    one_error_line(cp.stderr.decode())
    assert db_query(db, "SELECT count(*) FROM jobs")[0][0] == 1  # all or nothing


# -- corrupt, foreign, newer ---------------------------------------------------------------


@pytest.mark.parametrize("content", [os.urandom(8192), b"hello, I am a text file\n" * 100,
                                     b"SQLite format 3\0" + os.urandom(4080)],
                         ids=["random", "text", "bad-header"])
def test_corrupt_file_is_refused_and_left_untouched(rq, tmp_path, content):
    db = tmp_path / "corrupt.db"
    db.write_bytes(content)
    before = digest(db)
    for args in (["status"], ["enqueue", "true"], ["worker", "start", "--drain"]):
        cp = rq.run(*args, db=db, timeout=30)
        assert cp.returncode == 1, (args, cp)
        one_error_line(cp.stderr)
    assert digest(db) == before


def test_truncated_store_is_refused_clearly(rq, tmp_path):
    db = tmp_path / "t.db"
    rq.enqueue_many([{"command": "echo " + "p" * 3000} for _ in range(200)], db=db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    for p in (Path(str(db) + "-wal"), Path(str(db) + "-shm")):
        p.unlink(missing_ok=True)
    cp = rq.run("list", db=db)
    assert cp.returncode == 1, cp
    line = one_error_line(cp.stderr)
    assert "malformed" in line or "not a queuectl store" in line, line


def test_a_directory_as_the_store(rq, tmp_path):
    cp = rq.run("status", db=tmp_path)
    assert cp.returncode == 1
    one_error_line(cp.stderr)


def _foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (n INTEGER)")
    conn.execute("INSERT INTO invoices VALUES (1)")
    conn.commit()
    conn.close()


def test_foreign_sqlite_file_is_refused(rq, tmp_path):
    db = tmp_path / "foreign.db"
    _foreign(db)
    cp = rq.run("enqueue", "true", db=db)
    assert cp.returncode == 1
    assert "not a queuectl store" in one_error_line(cp.stderr)
    assert db_query(db, "SELECT name FROM sqlite_master WHERE type='table'") == [("invoices",)]


def test_refusing_a_foreign_file_does_not_change_its_journal_mode(rq, tmp_path):
    db = tmp_path / "foreign.db"
    _foreign(db)
    rq.run("status", db=db)
    assert db_query(db, "PRAGMA journal_mode") == [("delete",)]


def test_newer_schema_is_refused_for_every_command(rq, tmp_path):
    db = tmp_path / "future.db"
    rq.ok("enqueue", "--id", "keep", "true", db=db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    for args in (["status"], ["enqueue", "true"], ["list"], ["worker", "start", "--drain"],
                 ["config", "set", "max-retries", "1"]):
        cp = rq.run(*args, db=db, timeout=30)
        assert cp.returncode == 1, (args, cp)
        assert "newer than this queuectl" in one_error_line(cp.stderr)
    assert db_query(db, "PRAGMA user_version") == [(99,)]
    assert db_query(db, "SELECT id, state FROM jobs") == [("keep", "pending")]


# -- deleted under a running worker ---------------------------------------------------------


def test_store_deleted_under_a_running_worker(rq, tmp_path, figures):
    db = tmp_path / "gone.db"
    pidfile = tmp_path / "job.pid"
    rq.ok("enqueue", f"echo $$ > {pidfile}; exec sleep 60", db=db)
    worker = rq.worker("-c", 2, db=db)
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 15, message="job started")
    job_pid = int(pidfile.read_text())
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t0 = time.monotonic()
    code = worker.wait(30)
    stopped_after = time.monotonic() - t0
    log = worker.log()
    assert code == 1, log
    assert "deleted or replaced" in log and "Traceback" not in log, log
    wait_until(lambda: not alive(job_pid), 10, message="the job's process group killed")
    # the path is usable again: a new, empty store
    assert rq.run("status", db=db).returncode == 0
    figures.record("store-deleted-under-worker", worker_exit=code,
                   stopped_after_s=round(stopped_after, 2), job_group_killed=True)
