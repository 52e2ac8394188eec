"""Cancel and live output in real headless Chromium: cancelling a waiting job from the job
list, and following a running job's output on its page, then cancelling it there (a real
worker kills it)."""

import subprocess
import time

from clisupport import QUEUECTL

from .test_dashboard import stop_hard

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails) with the reason
    expect = None


def test_cancelling_a_waiting_job_from_the_list(seed, dashboard, page_at):
    seed.add("waiting", "true")
    seed.add("other", "true")
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/jobs")
    row = page.locator("table.jobs tbody tr").filter(has_text="waiting")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Cancel')").click()
    expect(page.locator("#toast")).to_have_text("Cancelled waiting")
    expect(row.locator(".state")).to_have_text("dead")
    expect(row.locator("td.err")).to_have_text("cancelled")
    expect(row.locator("button:has-text('Retry')")).to_have_count(1)  # dead: retry, not cancel
    assert (seed.state_of("waiting"), seed.state_of("other")) == ("dead", "pending")


def test_following_a_running_job_then_cancelling_it(seed, dashboard, page_at, db):
    seed.add("chatty", "echo '<b>first</b>'; echo to-stderr >&2; sleep 1; echo second; "
                       "sleep 60")
    worker = subprocess.Popen([QUEUECTL, "--db", db, "worker", "start", "--concurrency", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        server = dashboard()
        page = page_at()
        wait_until(lambda: seed.state_of("chatty") == "processing")
        page.goto(server.url + "/jobs/chatty")
        stdout = page.locator('pre[data-live="stdout"]')
        expect(stdout).to_contain_text("<b>first</b>", timeout=10_000)
        page.evaluate("window.__same_page = true")  # gone if the page reloaded
        expect(stdout).to_have_text("<b>first</b>\nsecond\n", timeout=10_000)
        assert page.evaluate("window.__same_page") is True
        expect(page.locator('pre[data-live="stderr"]')).to_have_text("to-stderr\n")
        assert stdout.locator("b").count() == 0  # text, never markup
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Cancel')")
        # the worker kills it; the stream ends and the page reloads with the final state
        expect(page.locator("h1 .state")).to_have_text("dead", timeout=15_000)
        expect(page.locator('pre[data-stream="stdout"]')).to_have_text("<b>first</b>\nsecond\n")
        expect(page.locator("dl.fields")).to_contain_text("cancelled")
        assert seed.state_of("chatty") == "dead"
    finally:
        stop_hard(worker)


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
