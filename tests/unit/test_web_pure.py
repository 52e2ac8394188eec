"""The dashboard's pure parts: chart geometry, Prometheus text, query parsing, time phrases."""

import math

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
