"""P11: the dashboard at 1,000,000 jobs (same measures at 10,000): a real `queuectl dashboard`
on a P7-shaped store, wall time of HTTP requests from this process (median of 7 per URL, the
stores interleaved). A row's figure is its slowest URL; `detail` has every URL's median.

  - P11-pages: job list pages — the first page, a state filter, and deep pages by keyset cursor
    (older and newer, filtered and not), HTML;
  - P11-overview: the overview page (counts, live workers, chart of the last hour, metrics);
  - P11-metrics: GET /metrics (what Prometheus scrapes every few seconds);
  - P11-search: a text filter that matches nothing (the worst case: every row is looked at);
  - P11-queues: the job list by queue and by batch, a queue with a state (a combined filter:
    one search window), the Queues page and GET /api/queues (the counts per queue are the
    store's kept count rows, read on every request). The store's jobs are spread over 10 queues.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from .common import QUEUECTL, Row, cli_env, median, prefill, say, scratch

URLS = {
    "P11-pages": ["/jobs", "/jobs?state=pending", "/jobs?before={mid}",
                 "/jobs?state=completed&before={mid}", "/jobs?after={mid}", "/dlq",
                 "/api/jobs?state=completed&before={mid}"],
    "P11-overview": ["/", "/live/overview"],
    "P11-metrics": ["/metrics"],
    "P11-search": ["/jobs?q=no-such-text"],
    "P11-queues": ["/jobs?queue=q3", "/jobs?queue=q3&before={mid}", "/api/jobs?batch=none",
                   "/jobs?queue=q3&state=pending", "/queues", "/api/queues"],
}
GOALS_MS = {"P11-pages": 200, "P11-overview": 200, "P11-metrics": 100, "P11-search": 200,
            "P11-queues": 200}
WHAT = {"P11-pages": "a page of the job list (first, filtered, deep by cursor)",
        "P11-overview": "the overview page", "P11-metrics": "GET /metrics",
        "P11-search": "a text filter matching nothing (every row looked at)",
        "P11-queues": "a job list by queue or batch, the Queues page"}


@contextlib.contextmanager
def _dashboard(db: Path, tmp: Path) -> Iterator[str]:
    proc = subprocess.Popen([QUEUECTL, "dashboard", "--port", "0"], env=cli_env(db, tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+?)/", line)
        if not match:
            raise RuntimeError(f"the dashboard did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()


def _get_ms(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return (time.perf_counter() - t0) * 1000


def _measure(targets: list[tuple[str, list[str]]], runs: int = 7) -> list[dict[str, float]]:
    """Median ms of every (server, its paths), the servers interleaved."""
    for base, paths in targets:
        for path in paths:
            _get_ms(base + path)  # warm-up: page cache, templates
    times: list[dict[str, list[float]]] = [{p: [] for p in paths} for _, paths in targets]
    for _ in range(runs):
        for (base, paths), out in zip(targets, times, strict=True):
            for path in paths:
                out[path].append(_get_ms(base + path))
    return [{p: median(t) for p, t in per.items()} for per in times]


def _build(total: int, tmp: Path) -> Path:
    db = tmp / "q.db"
    pending = max(5_000, total // 10)
    t0 = time.perf_counter()
    prefill(db, pending, completed=total - pending, queues=10)
    say(f"P11: store of {total:,} jobs prefilled in {time.perf_counter() - t0:.1f}s")
    return db


def p11(quick: bool) -> list[Row]:
    big_n, small_n = (100_000, 10_000) if quick else (1_000_000, 10_000)
    with scratch("p11-small") as small_tmp, scratch("p11-big") as big_tmp:
        stores = [(_build(small_n, small_tmp), small_tmp), (_build(big_n, big_tmp), big_tmp)]
        with _dashboard(*stores[0]) as small_url, _dashboard(*stores[1]) as big_url:
            say("P11: timing dashboard requests on both stores ...")
            rows = []
            for row_id, paths in URLS.items():
                small_ms, big_ms = _measure([
                    (small_url, [p.format(mid=small_n // 2) for p in paths]),
                    (big_url, [p.format(mid=big_n // 2) for p in paths])])
                rows.append(_row(row_id, big_n, small_n, small_ms, big_ms))
    return rows


def _row(row_id: str, big_n: int, small_n: int, small_ms: dict, big_ms: dict) -> Row:
    return Row(row_id, f"store of {big_n:,} jobs: {WHAT[row_id]}, slowest URL", "ms",
               max(big_ms.values()), max(small_ms.values()), GOALS_MS[row_id],
               goal_on="queuectl", goal_op="<=", reference_label=f"same at {small_n:,} jobs",
               detail={"ms_by_url": {k: round(v, 2) for k, v in big_ms.items()},
                       "ms_by_url_small": {k: round(v, 2) for k, v in small_ms.items()}})


BENCHMARKS = {"P11": p11}
