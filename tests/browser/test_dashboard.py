"""The dashboard in real headless Chromium against a real `queuectl dashboard` process."""

import re
import subprocess

import pytest
from clisupport import QUEUECTL

from queuectl.jobs import JobState
from queuectl.timeutil import now_ms

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails) with the reason
    expect = None

VIEWPORTS = [(1280, 800), (390, 844)]


def card(page, state):
    return page.locator(f'.card[data-state="{state}"] .value')


def test_the_overview_follows_a_job_to_completed_without_a_reload(seed, dashboard, page_at, db):
    seed.add("fresh", "echo done")
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/")
    expect(page.locator("#live-dot")).to_have_text("live")
    expect(card(page, "pending")).to_have_text("1")
    expect(card(page, "completed")).to_have_text("0")
    page.evaluate("window.__sameDocument = true")
    subprocess.run([QUEUECTL, "--db", db, "worker", "start", "--drain"], check=True, timeout=60,
                   capture_output=True)
    expect(card(page, "completed")).to_have_text("1", timeout=10_000)
    expect(card(page, "pending")).to_have_text("0")
    expect(page.locator("svg.chart rect.bar.completed")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded


def test_filtering_jobs_by_state_and_text(seed, dashboard, page_at):
    seed.standard()
    for i in range(3):
        seed.add(f"nightly-{i}", f"backup --part {i}")
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/jobs")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(6)
    page.select_option("select[name=state]", "dead")  # submits by itself
    expect(page).to_have_url(re.compile(r"state=dead"))
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.id")).to_have_text("bad")
    page.select_option("select[name=state]", "")
    expect(page).not_to_have_url(re.compile(r"state=dead"))
    page.fill("input[name=q]", "BACKUP")
    page.click("button:has-text('Filter')")
    expect(rows).to_have_count(3)
    expect(rows.locator("td.id")).to_have_text(["nightly-2", "nightly-1", "nightly-0"])
    page.fill("input[name=q]", "no-such-thing")
    page.click("button:has-text('Filter')")
    expect(page.locator(".empty")).to_contain_text("No job matches")


def test_opening_a_job_shows_its_output_as_text(seed, dashboard, page_at):
    seed.standard()
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/jobs")
    page.click("td.id a:text-is('ok')")
    expect(page).to_have_url(server.url + "/jobs/ok")
    expect(page.locator("h1")).to_contain_text("ok")
    stdout = page.locator('pre[data-stream="stdout"]')
    expect(stdout).to_contain_text("<script>window.__xss = 1</script>")
    expect(stdout).to_contain_text("hello")
    expect(page.locator('pre[data-stream="stderr"]')).to_have_text("warn\n")
    expect(page.locator("pre.command")).to_have_text("echo '<script>alert(1)</script>'")
    assert page.evaluate("window.__xss") is None  # shown, never run
    page.click("a[aria-label='output of attempt 1']")
    expect(page).to_have_url(re.compile(r"/jobs/ok\?attempt=1$"))
    expect(stdout).to_contain_text("hello")


def test_retrying_from_the_dlq(seed, dashboard, page_at):
    seed.standard()
    seed.add("bad2", "false", max_retries=0, priority=9)
    seed.attempt("bad2", state=JobState.DEAD, exit_code=1)
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/dlq")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(2)
    rows.filter(has_text="bad2").locator("button:has-text('Retry')").click()
    expect(page.locator("#toast")).to_have_text("Retried bad2")
    expect(rows).to_have_count(1)
    assert seed.state_of("bad2") == "pending"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Retry all')")
    expect(page.locator("#toast")).to_have_text("Retried every dead job")
    expect(page.locator(".empty")).to_have_text("The dead letter queue is empty.")
    assert seed.state_of("bad") == "pending"


def test_the_token_flow(seed, dashboard, page_at):
    seed.standard()
    server = dashboard("--token", "correct-horse-battery")
    page = page_at()
    response = page.goto(server.url + "/jobs?state=dead")
    assert response.status == 401
    expect(page.locator("h1")).to_have_text("Token required")
    page.fill("input[name=token]", "wrong-token-123")
    page.click("button:has-text('Open')")
    expect(page.locator(".alert")).to_have_text("wrong token")
    page.fill("input[name=token]", "correct-horse-battery")
    page.click("button:has-text('Open')")
    expect(page.locator("h1")).to_have_text("Jobs")
    assert "token" not in page.url  # the token went into a cookie, not the history
    cookie = next(c for c in page.context.cookies() if c["name"] == "token")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.goto(server.url + "/")
    expect(page.locator("#live-dot")).to_have_text("live")  # the event stream is let in too
    assert page.request.get(server.url + "/metrics").status == 200


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_every_page_fits_the_screen(seed, dashboard, page_at, db, shots, width, height):
    seed.standard()
    for i in range(12):
        seed.add(f"report-{i}", f"sleep 0.{i % 3}; echo report {i}", priority=10)
        seed.attempt(f"report-{i}", state=JobState.COMPLETED if i % 4 else JobState.FAILED,
                     exit_code=0 if i % 4 else 1)
    seed.add("a-very-long-job-identifier-that-has-no-spaces-at-all-0123456789abcdef",
             "python3 -c 'print(1)' && " + "x" * 300, run_at=now_ms() + 3_600_000)
    for name in ("resize-images", "sync-mirror"):
        seed.add(name, "sleep 30", priority=20)  # the worker below shows them running
    seed.add("mail-1", "send", queue="outgoing-mail-with-a-long-name")
    seed.run(lambda store: store.set_queues(["outgoing-mail-with-a-long-name"], paused=True))
    worker = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start", "--concurrency", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = dashboard()
        scheme = "light" if width > 600 else "dark"
        page = page_at(width, height, scheme)
        for path in ["/", "/jobs", "/dlq", "/workers", "/queues", "/schedules", "/jobs/ok",
                     "/jobs/nope"]:
            page.goto(server.url + path)
            sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sizes[0] <= sizes[1], f"{path} scrolls sideways at {width}x{height}: {sizes}"
        page.goto(server.url + "/")
        expect(page.locator(".running li")).to_have_count(2, timeout=10_000)
        page.screenshot(path=str(shots / f"dashboard-{width}x{height}.png"))
    finally:
        stop_hard(worker)


def stop_hard(worker: subprocess.Popen) -> None:
    """Signals until it exits: the second one kills its running jobs (hard stop)."""
    for _ in range(20):
        worker.terminate()
        try:
            worker.wait(0.5)
            return
        except subprocess.TimeoutExpired:
            continue
    worker.kill()
    worker.wait()
