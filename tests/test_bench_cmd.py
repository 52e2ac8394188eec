"""`queuectl bench`: a throwaway store, real worker processes, one JSON document on stdout."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

QUEUECTL = shutil.which("queuectl") or str(Path(sys.executable).parent / "queuectl")


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"), NO_COLOR="1",
               QUEUECTL_DB=str(tmp_path / "must-not-be-used.db"))
    return subprocess.run([QUEUECTL, *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=90, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_bench_json_runs_every_job_in_a_throwaway_store(tmp_path: Path) -> None:
    cp = run("bench", "--jobs", "50", "--json", tmp_path=tmp_path)
    assert cp.returncode == 0, cp.stderr
    assert "Traceback" not in cp.stderr
    report = json.loads(cp.stdout)  # exactly one JSON document
    assert report["jobs"] == 50
    assert report["completed"] == 50 and report["failed"] == 0
    assert report["store"] == "temporary"
    assert report["jobs_per_second"] > 0 and report["enqueue_jobs_per_second"] > 0
    latency = report["start_latency_ms"]
    assert latency["sample"] == 50
    assert 0 <= latency["p50"] <= latency["p95"] <= latency["p99"]
    assert not (tmp_path / "must-not-be-used.db").exists()  # never QUEUECTL_DB
    assert not (tmp_path / "xdg" / "queuectl").exists()  # never the default store


@pytest.mark.slow
def test_bench_counts_failing_commands_and_uses_an_explicit_store(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    cp = run("bench", "--jobs", "5", "--concurrency", "2", "--processes", "2",
             "--command", "exit 3", "--db", str(db), "--json", tmp_path=tmp_path)
    assert cp.returncode == 0, cp.stderr
    report = json.loads(cp.stdout)
    assert (report["completed"], report["failed"]) == (0, 5)
    assert report["store"] == str(db) and db.exists()


@pytest.mark.parametrize("args", [("--jobs", "0"), ("--concurrency", "0"),
                                  ("--processes", "-1"), ("--command", " ")])
def test_bench_rejects_bad_values_with_exit_2(tmp_path: Path, args: tuple[str, ...]) -> None:
    cp = run("bench", *args, "--json", tmp_path=tmp_path)
    assert cp.returncode == 2
    assert cp.stdout == ""
    lines = [line for line in cp.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), cp.stderr
