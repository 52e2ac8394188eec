"""Flow control and Part 2 fields in real headless Chromium: pausing and resuming a queue from
the Queues page, filtering the job list by queue and batch, the Schedules page."""

import re

from queuectl.jobs import JobState, NewJob, Schedule
from queuectl.timeutil import now_ms

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or fails) with the reason
    expect = None


def seed_queues(seed):
    for i in range(3):
        seed.add(f"mail-{i}", f"send --part {i}", queue="mail", batch="spring" if i else "fall")
    seed.add("report-1", "make report", queue="reports", batch="spring", priority=5)
    seed.attempt("report-1", state=JobState.DEAD, exit_code=2)


def test_pausing_and_resuming_a_queue(seed, dashboard, page_at):
    seed_queues(seed)
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/queues")
    mail = page.locator('tr[data-queue="mail"]')
    expect(page.locator("table.queues tbody tr")).to_have_count(2)
    expect(mail.locator(".state")).to_have_text("active")
    expect(mail.locator("td.num").nth(1)).to_have_text("3")  # pending
    mail.locator("button:has-text('Pause')").click()
    expect(page.locator("#toast")).to_have_text("Paused mail")
    expect(mail.locator(".state")).to_have_text("paused")
    assert seed.run(lambda store: store.queue_settings()) == [("mail", True, 0)]
    expect(page.locator('tr[data-queue="reports"] .state')).to_have_text("active")
    mail.locator("button:has-text('Resume')").click()
    expect(page.locator("#toast")).to_have_text("Resumed mail")
    expect(mail.locator(".state")).to_have_text("active")
    assert seed.run(lambda store: store.queue_settings()) == [("mail", False, 0)]


def test_filtering_jobs_by_queue_and_batch(seed, dashboard, page_at):
    seed_queues(seed)
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/queues")
    page.locator('tr[data-queue="reports"] a:text-is("1")').click()  # its dead count
    expect(page).to_have_url(re.compile(r"/jobs\?queue=reports&state=dead$"))
    rows = page.locator("table.jobs tbody tr")
    expect(rows.locator("td.id")).to_have_text(["report-1"])
    page.goto(server.url + "/jobs")
    expect(rows).to_have_count(4)
    page.fill("input[name=queue]", "mail")
    page.click("button:has-text('Filter')")
    expect(page).to_have_url(re.compile(r"queue=mail"))
    expect(rows.locator("td.id")).to_have_text(["mail-2", "mail-1", "mail-0"])
    page.fill("input[name=batch]", "spring")
    page.click("button:has-text('Filter')")
    expect(rows.locator("td.id")).to_have_text(["mail-2", "mail-1"])
    page.fill("input[name=queue]", "")
    page.click("button:has-text('Filter')")
    expect(rows.locator("td.id")).to_have_text(["report-1", "mail-2", "mail-1"])
    page.click("a:has-text('Clear')")
    expect(rows).to_have_count(4)


def test_the_schedules_page_lists_each_schedule(seed, dashboard, page_at):
    now = now_ms()
    job = NewJob("", "backup.sh --all", max_retries=3)
    seed.run(lambda store: store.add_schedule(
        Schedule("nightly-backup", "0 3 * * *", "Europe/Paris", job, now + 9_000_000,
                 now - 5_400_000, now)))
    server = dashboard()
    page = page_at()
    page.goto(server.url + "/schedules")
    row = page.locator("table.schedules tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("nightly-backup")
    expect(row.locator("td").nth(1)).to_have_text("0 3 * * *")
    expect(row.locator("td").nth(2)).to_have_text("Europe/Paris")
    expect(row.locator("td").nth(3)).to_have_text("in 2 h")
    expect(row.locator("td").nth(4)).to_have_text("1 h ago")
    expect(row.locator("td.cmd")).to_have_text("backup.sh --all")
