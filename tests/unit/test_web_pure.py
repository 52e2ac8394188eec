"""The dashboard's pure parts: chart geometry, Prometheus text, query parsing, time phrases."""

import asyncio
import math
from typing import NamedTuple

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed")

from queuectl.errors import UsageError  # noqa: E402
from queuectl.jobs import JobState, MinuteStats, WorkerInfo  # noqa: E402
from queuectl.web import chart, metrics, views  # noqa: E402
from queuectl.web.pages import ago, seconds  # noqa: E402
from queuectl.web.security import is_local  # noqa: E402


def minutes(*pairs):
    return [MinuteStats(i * 60_000, c, f, 0.0, c + f) for i, (c, f) in enumerate(pairs)]


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (201, 500)])
def test_nice_ceiling(value, ceiling):
    assert chart.nice_ceiling(value) == ceiling


def test_chart_stacks_failed_on_completed_and_fits_the_box():
    built = chart.build(minutes((0, 0), (3, 2), (5, 0)))
    assert [(b.kind, round(b.height, 1)) for b in built.bars] == [
        ("completed", 79.2), ("failed", 52.8), ("completed", 132.0)]
    done, failed = built.bars[0], built.bars[1]
    assert math.isclose(failed.y + failed.height, done.y)  # stacked
    assert all(b.y >= chart.TOP - 1e-9 and b.y + b.height <= built.baseline + 1e-9 for b in built.bars)
    assert [v for _, v in built.y_ticks] == [0, 2, 5]
    assert [t for _, t, _ in built.x_labels] == ["-3 min", "-2 min", "now"]
    assert (built.total_completed, built.total_failed) == (8, 2)


def test_an_empty_hour_draws_no_bars():
    built = chart.build(minutes(*[(0, 0)] * 60))
    assert built.bars == [] and [v for _, v in built.y_ticks] == [0, 1]


def test_metrics_text():
    worker = WorkerInfo("w", 1, "h", 4, 0, 0, running=2)
    text = metrics.render(counts={"pending": 2, "dead": 1}, queues={'we"ird': {"pending": 2}},
                          workers=[worker], p95=None, minutes=minutes((2, 1)))
    assert 'queuectl_jobs{state="pending"} 2\nqueuectl_jobs{state="processing"} 0\n' in text
    assert 'queuectl_jobs{queue="we\\"ird",state="pending"} 2\n' in text
    assert "queuectl_workers 1\nqueuectl_worker_slots" not in text
    assert "queuectl_worker_slots 4\n" in text and "queuectl_jobs_running 2\n" in text
    assert 'queuectl_job_duration_seconds{quantile="0.95"} NaN\n' in text
    assert "queuectl_job_duration_seconds_count 3\n" in text
    assert text.endswith("\n") and "# TYPE queuectl_jobs gauge" in text


def test_listing_parameters():
    listing = views.parse_listing({"state": "dead", "q": "  x ", "limit": "5", "before": "9"})
    assert listing == views.Listing(JobState.DEAD, "x", 5, 9, None)
    assert listing.query(before=3) == "state=dead&q=x&limit=5&before=3"
    assert views.parse_listing({}).query() == ""
    for bad in [{"state": "nope"}, {"limit": "1001"}, {"limit": "٣"}, {"after": "x"}, {"page": "2"}]:
        with pytest.raises(UsageError):
            views.parse_listing(bad)


@pytest.mark.parametrize(("delta_s", "text"), [(0, "just now"), (5, "5 s ago"), (125, "2 min ago"),
                                               (7200, "2 h ago"), (-30, "in 30 s"), (200000, "2 d ago")])
def test_ago(delta_s, text):
    assert ago(1_000_000_000 - delta_s * 1000, 1_000_000_000) == text


def test_seconds_and_local_hosts():
    assert (seconds(None), seconds(0.25), seconds(2.5)) == ("-", "250 ms", "2.50 s")
    assert is_local("127.0.0.1") and is_local("[::1]") and is_local("LOCALHOST")
    assert not is_local("0.0.0.0") and not is_local("example.com")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class CountingStore:
    """list_queues takes `took` seconds of the fake clock; settings change under it."""

    def __init__(self, clock: FakeClock, took: float) -> None:
        self.clock, self.took, self.counts, self.paused = clock, took, 0, False

    async def list_queues(self):
        self.counts += 1
        self.clock.now += self.took
        return [QInfo("mail", False, 0, {"pending": self.counts, "dead": 0})]

    async def queue_settings(self):
        return [("mail", self.paused, 0)]


async def test_queue_counts_are_paced_and_settings_fresh(monkeypatch):
    from queuectl.web import queues

    clock = FakeClock()
    monkeypatch.setattr(queues, "time", clock)
    store, counts = CountingStore(clock, took=0.5), queues.QueueCounts()
    (first,) = await counts.queues(store)  # nothing counted yet: this one waits
    assert (first.name, first.counts["pending"], first.paused) == ("mail", 1, False)
    store.paused = True
    clock.now += 9.0  # younger than 20 x 0.5 s: served as is, settings read again
    (again,) = await counts.queues(store)
    assert (again.counts["pending"], again.paused, store.counts) == (1, True, 1)
    clock.now += 1.0  # now due: one count starts, this request gets the last one
    stale = await counts.queues(store)
    assert stale[0].counts["pending"] == 1
    assert await counts.names(store) == ["mail"]  # a count is running: no second one
    await asyncio.sleep(0)
    assert store.counts == 2 and (await counts.queues(store))[0].counts["pending"] == 2


async def test_queue_counts_wait_at_least_two_and_at_most_sixty_seconds(monkeypatch):
    from queuectl.web import queues

    clock = FakeClock()
    monkeypatch.setattr(queues, "time", clock)
    quick, slow = queues.QueueCounts(), queues.QueueCounts()
    await quick.queues(CountingStore(clock, took=0.001))
    await slow.queues(CountingStore(clock, took=10.0))
    assert (quick._max_age, slow._max_age) == (2.0, 60.0)


class QInfo(NamedTuple):
    name: str
    paused: bool
    limit: int
    counts: dict
