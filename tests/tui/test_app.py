"""Every TUI action through Textual's pilot: keys in, store and screen checked."""

import os

import pytest
from store.helpers import NOW, claim, finish, job, make_dead, result
from textual.widgets import DataTable, Input, Static

from queuectl.jobs import JobState
from queuectl.tui.forms import Confirm, FormScreen, JobScreen


def rows(table: DataTable) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def message(app) -> str:
    return str(app.query_one("#message", Static).render())


async def fill(pilot, **values: str) -> None:
    """Type into the open form's fields, then press Enter (submit)."""
    for name, value in values.items():
        pilot.app.screen.query_one(f"#f-{name}", Input).value = value
    await pilot.press("enter")
    await pilot.pause()


def form_error(app) -> str:
    return str(app.screen.query_one("#form-error", Static).render())


async def test_the_main_screen_shows_counts_and_workers_and_refreshes_itself(store, ui):
    await store.insert_jobs([job("a"), job("b")], now=NOW)
    async with ui() as pilot:
        counts = pilot.app.query_one("#counts", DataTable)
        assert ["pending", "2"] in rows(counts)
        await store.insert_jobs([job("c")], now=NOW)
        await make_dead(store)
        await pilot.app.tick()  # what the 1 s timer calls
        assert ["pending", "3"] in rows(counts) and ["dead", "1"] in rows(counts)
        assert ["total", "4"] in rows(counts)
        assert "3 DLQ (1)" in str(pilot.app.query_one("TabbedContent").get_tab("dlq").label)


async def test_enqueue_form_creates_the_job_as_enqueue_would(store, ui):
    async with ui() as pilot:
        await pilot.press("e")
        assert isinstance(pilot.app.screen, FormScreen)
        await fill(pilot, command="echo hi", id="j1", max_retries="1", priority="7",
                   timeout="2.5", delay="1m")
        assert not isinstance(pilot.app.screen, FormScreen)
        assert message(pilot.app) == "enqueued j1"
    created = await store.get_job("j1")
    assert (created.command, created.max_retries, created.priority, created.timeout) == (
        "echo hi", 1, 7, 2.5)
    assert created.run_at > created.created_at + 59_000


@pytest.mark.parametrize(("fields", "error"), [
    ({"command": "echo hi", "max_retries": "two"}, "max_retries must be a whole number, got 'two'"),
    ({"command": "   "}, "command"),
    ({"command": "x", "timeout": "0"}, "timeout must be > 0"),
    ({"command": "x", "delay": "-1"}, "delay: not a duration >= 0: '-1'"),
    ({"command": "x", "delay": "5 parsecs"}, "delay: not a duration"),
    ({"command": "x", "id": "taken"}, "taken"),  # a duplicate id: exit 1 in the CLI
])
async def test_bad_enqueue_input_is_shown_in_the_form_and_creates_nothing(store, ui, fields,
                                                                         error):
    await store.insert_jobs([job("taken")], now=NOW)
    async with ui() as pilot:
        await pilot.press("e")
        await fill(pilot, **fields)
        assert isinstance(pilot.app.screen, FormScreen)  # still open, to fix the field
        assert form_error(pilot.app).startswith("error: ") and error in form_error(pilot.app)
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, FormScreen)
    assert (await store.count_by_state())["pending"] == 1


async def test_job_list_by_state_and_a_jobs_history_and_output(store, ui):
    await store.insert_jobs([job("done", "echo hello"), job("waiting")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.finish_jobs([finish(claimed, res=result(0, out=b"hello out\n", err=b"warn\n"))],
                            now=NOW + 100)
    async with ui() as pilot:
        await pilot.press("2")
        await pilot.app.workers.wait_for_complete()
        table = pilot.app.active_pane().table
        assert [r[0] for r in rows(table)] == ["waiting", "done"]  # newest first
        await pilot.press("s", "s", "s")  # all -> pending -> processing -> completed
        await pilot.app.workers.wait_for_complete()
        assert [r[:2] for r in rows(table)] == [["done", "completed"]]
        await pilot.press("enter")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, JobScreen)
        await screen.reload()
        assert rows(screen.query_one("#history", DataTable))[0][0] == "1"
        output = str(screen.query_one("#output", Static).render())
        assert "hello out" in output and "warn" in output
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, JobScreen)


async def test_dlq_retry_one_then_all(store, ui):
    for job_id in ("d1", "d2", "d3"):
        await make_dead(store, job_id)
    async with ui() as pilot:
        await pilot.press("3")
        await pilot.app.workers.wait_for_complete()
        table = pilot.app.active_pane().table
        assert [r[0] for r in rows(table)] == ["d3", "d2", "d1"]
        await pilot.press("s")  # the jobs tab's state filter is not a DLQ key
        assert pilot.app.active_pane().state == "dead"
        await pilot.press("down", "r")  # the second row
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "retried d2"
        assert (await store.get_job("d2")).state == JobState.PENDING
        assert [r[0] for r in rows(table)] == ["d3", "d1"]
        await pilot.press("a")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "retried d1, d3"
        assert (await store.count_by_state())["dead"] == 0
        await pilot.press("a")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "error: the dead letter queue is empty"


async def test_config_set_validates_like_config_set(store, ui):
    async with ui() as pilot:
        await pilot.press("5")
        await pilot.app.workers.wait_for_complete()
        table = pilot.app.active_pane().table
        assert rows(table)[0][:3] == ["max-retries", "3", "default"]
        await pilot.press("enter")
        await fill(pilot, value="-1")
        assert form_error(pilot.app) == "error: max-retries must be between 0 and 2147483647, got '-1'"
        await fill(pilot, value="5")
        assert message(pilot.app) == "max-retries=5"
        await pilot.app.workers.wait_for_complete()
        assert rows(table)[0][:3] == ["max-retries", "5", "set"]
    assert await store.get_config() == {"max-retries": "5"}


@pytest.mark.slow
async def test_start_a_detached_worker_then_stop_all_workers(store, ui, eventually):
    async with ui() as pilot:
        await pilot.press("w")
        await fill(pilot, count="0")
        assert "--concurrency must be between 1 and 10000" in form_error(pilot.app)
        await fill(pilot, count="2")
        assert message(pilot.app).startswith("worker ")
        (worker,) = await store.list_workers()  # registered when the form closed
        assert worker.concurrency == 2 and message(pilot.app).startswith(f"worker {worker.id} ")
        await pilot.press("x")
        assert isinstance(pilot.app.screen, Confirm)
        await pilot.press("y")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "1 worker stopped"
    assert await store.list_workers() == []
    await eventually(lambda: not os.path.exists(f"/proc/{worker.pid}"), timeout=10)


async def test_stop_with_no_worker_says_so_and_n_cancels(store, ui):
    async with ui() as pilot:
        await pilot.press("x", "n")
        assert not isinstance(pilot.app.screen, Confirm) and message(pilot.app) == ""
        await pilot.press("x", "y")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "no worker was running"


async def test_q_quits(store, ui):
    async with ui() as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not pilot.app.is_running


async def test_pause_and_resume_the_selected_queue(store, ui):
    await store.insert_jobs([job("a", queue="fast"), job("b")], now=NOW)
    async with ui() as pilot:
        await pilot.press("4")
        await pilot.app.workers.wait_for_complete()
        table = pilot.app.active_pane().table
        assert [r[:2] for r in rows(table)] == [["default", "no"], ["fast", "no"]]
        await pilot.press("down", "z")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "paused fast"
        assert {q.name: q.paused for q in await store.list_queues()} == {
            "default": False, "fast": True}
        assert rows(table)[1][:2] == ["fast", "yes"]
        await pilot.press("u")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "resumed fast"
        assert not any(q.paused for q in await store.list_queues())


async def test_a_store_error_is_a_message_line_and_the_app_goes_on(store, ui, monkeypatch):
    from queuectl.errors import StoreError

    async def broken():
        raise StoreError("store x: no such table: queues")

    monkeypatch.setattr(store, "list_queues", broken)
    async with ui() as pilot:
        await pilot.press("4")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "error: store x: no such table: queues"
        assert pilot.app.is_running
        await pilot.press("1")
        await pilot.app.tick()
        assert ["total", "0"] in rows(pilot.app.query_one("#counts", DataTable))


async def test_cancel_from_the_jobs_tab_asks_first_and_says_what_the_cli_would(store, ui):
    await store.insert_jobs([job("done"), job("waiting")], now=NOW)
    (claimed,) = await claim(store, 1)
    await store.finish_jobs([finish(claimed, res=result(0))], now=NOW + 100)
    async with ui() as pilot:
        await pilot.press("2")
        await pilot.app.workers.wait_for_complete()
        table = pilot.app.active_pane().table
        assert [r[0] for r in rows(table)] == ["waiting", "done"]
        await pilot.press("c")
        assert isinstance(pilot.app.screen, Confirm)
        await pilot.press("n")  # no: nothing changes
        assert (await store.get_job("waiting")).state == JobState.PENDING
        await pilot.press("c", "y")
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app) == "cancelled waiting (now dead)"
        cancelled = await store.get_job("waiting")
        assert (cancelled.state, cancelled.last_error) == (JobState.DEAD, "cancelled")
        assert [r[:2] for r in rows(table)][0] == ["waiting", "dead"]
        await pilot.press("down", "c", "y")  # a finished job: the CLI's exit-1 error
        await pilot.app.workers.wait_for_complete()
        assert message(pilot.app).startswith("error: ") and "already completed" in message(
            pilot.app)
        assert (await store.get_job("done")).state == JobState.COMPLETED


async def test_cancel_a_running_job_from_its_screen(store, ui, eventually):
    await store.insert_jobs([job("running", "sleep 60")], now=NOW)
    await claim(store, 1)
    async with ui() as pilot:
        await pilot.press("2")
        await pilot.app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, JobScreen)  # its output is followed: a worker that runs on
        await pilot.press("c")
        assert isinstance(pilot.app.screen, Confirm)
        await pilot.press("y")
        shown = "cancelling running: its worker is killing the running attempt"
        await eventually(lambda: job_message(screen) == shown)
        assert pilot.app.screen is screen
        assert (await store.get_job("running")).state == JobState.PROCESSING  # its worker's
        screen.query_one("#job-message", Static).update("")
        await pilot.press("c", "y")  # asked again: the store accepts it again, as the CLI does
        await eventually(lambda: job_message(screen) == shown)


def job_message(screen) -> str:
    return str(screen.query_one("#job-message", Static).render())


def output_of(screen) -> str:
    return str(screen.query_one("#output", Static).render())


async def test_the_job_screen_follows_a_running_jobs_output_as_it_is_written(store, ui,
                                                                            eventually):
    from queuectl.jobs import Chunk, OutputWrite

    def written(*chunks):
        return OutputWrite([("live", "w1", 1, chunk) for chunk in chunks], [], [])

    await store.insert_jobs([job("live", "make build")], now=NOW)
    (claimed,) = await claim(store, 1)
    async with ui() as pilot:
        await pilot.press("2")
        await pilot.app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, JobScreen)
        await eventually(lambda: "followed as it runs" in output_of(screen), timeout=10)
        await store.finish_jobs([], now=NOW + 1, output=written(Chunk(1, 0, b"step 1\n")))
        await eventually(lambda: "step 1" in output_of(screen), timeout=10)
        assert "ended" not in output_of(screen)  # still running: the loop was not blocked
        await store.finish_jobs([], now=NOW + 2, output=written(Chunk(2, 0, b"warning\n")))
        await eventually(lambda: "warning" in output_of(screen), timeout=10)
        last = written(Chunk(1, 7, b"step 2\n"))  # the last piece lands with the finish
        await store.finish_jobs([finish(claimed, res=result(0, out=b"step 1\nstep 2\n",
                                                            err=b"warning\n"))],
                                now=NOW + 3, output=last)
        await eventually(lambda: "attempt 1 ended" in output_of(screen), timeout=10)
        shown = output_of(screen)
        assert shown.index("step 1") < shown.index("warning") < shown.index("step 2")
        assert shown.count("step 2") == 1  # the finished attempt's row adds nothing twice
        await screen.reload()
        assert "attempt 1 ended" in output_of(screen)  # the live view stays


async def test_the_jobs_tab_filters_by_queue_and_batch(store, ui):
    await store.insert_jobs([job("a", queue="fast", batch="nightly"), job("b", queue="fast"),
                             job("c", batch="nightly"), job("d")], now=NOW)
    async with ui() as pilot:
        await pilot.press("2")
        await pilot.app.workers.wait_for_complete()
        pane = pilot.app.active_pane()
        assert [r[0] for r in rows(pane.table)] == ["d", "c", "b", "a"]
        await pilot.press("f")
        await fill(pilot, queue="bad name")  # the CLI's exit-2 rule, shown in the form
        assert isinstance(pilot.app.screen, FormScreen)
        assert form_error(pilot.app) == ("error: queue must be 1 to 64 of the characters "
                                         "A-Z a-z 0-9 _ . : -, got 'bad name'")
        await fill(pilot, queue="fast")
        assert message(pilot.app) == "jobs of queue fast"
        await pilot.app.workers.wait_for_complete()
        assert [r[0] for r in rows(pane.table)] == ["b", "a"]
        assert "queue: fast" in str(pane.query_one(".pane-title", Static).render())
        await pilot.press("f")
        await fill(pilot, queue="", batch="nightly")
        await pilot.app.workers.wait_for_complete()
        assert [r[0] for r in rows(pane.table)] == ["c", "a"]
        await pilot.press("f")
        await fill(pilot, queue="fast", batch="nightly")  # the filters combine
        await pilot.app.workers.wait_for_complete()
        assert [r[0] for r in rows(pane.table)] == ["a"]
        await pilot.press("s", "s")  # and with the state filter: processing
        await pilot.app.workers.wait_for_complete()
        assert rows(pane.table) == []
        await pilot.press("s", "s", "s", "s", "s")  # back to all
        await pilot.press("f")
        await fill(pilot, queue="", batch="")
        assert message(pilot.app) == "jobs of every queue and batch"
        await pilot.app.workers.wait_for_complete()
        assert [r[0] for r in rows(pane.table)] == ["d", "c", "b", "a"]


@pytest.mark.parametrize("tab", ["1", "2", "3", "4", "5"])
async def test_every_tabs_keys_are_on_screen_in_80_columns(store, ui, tab):
    from textual.widgets._footer import FooterKey

    async with ui() as pilot:
        await pilot.press(tab)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        keys = {(k.key_display, k.description): k.region for k in pilot.app.query(FooterKey)}
        assert ("q", "Quit") in keys
        if tab == "2":
            assert {("s", "State"), ("f", "Filter"), ("c", "Cancel")} <= set(keys)
        assert all(region.right <= 80 and region.width > 0 for region in keys.values()), keys
