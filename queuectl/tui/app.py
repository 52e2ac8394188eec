"""The Textual app: tabs for overview, jobs, DLQ and config; forms for the actions.

Every read and write is a store verb awaited on Textual's own event loop (aiosqlite runs
SQLite on its thread, asyncpg is asynchronous), so the screen never waits on the store. The
tick reads what is O(1) (count_by_state, the worker rows) once a second; the visible list is
re-read every other tick, one page at a time. Actions run as Textual workers.
"""

from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.widgets import Footer, Static, TabbedContent, TabPane

from ..errors import QueuectlError
from .format import plural
from .forms import Confirm, Field, FormScreen, JobScreen
from .panes import ConfigPane, DlqPane, JobsPane, LivePane, OverviewPane, QueuesPane

TICK_S = 1.0
STOP_TIMEOUT_S = 30.0  # as `worker stop`'s default
TABS = (("overview", "1 Overview"), ("jobs", "2 Jobs"), ("dlq", "3 DLQ"), ("queues", "4 Queues"),
        ("config", "5 Config"))


class QueueApp(App):
    TITLE = "queuectl"
    ENABLE_COMMAND_PALETTE = False  # every action has its own key, shown in the footer
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("e", "enqueue", "Enqueue"),
        Binding("w", "start_worker", "Worker+"),
        Binding("x", "stop_workers", "Stop all"),
        *(Binding(str(n), f"tab('{name}')", label, show=False)
          for n, (name, label) in enumerate(TABS, 1)),
    ]

    def __init__(self, store: Any, location: str) -> None:
        super().__init__()
        self.store, self.location = store, location
        self._ticks = 0
        self._busy = False
        # Held, not queried: a tick may run while quitting, when the widgets are already gone.
        self._panes: dict[str, LivePane] = {"overview": OverviewPane(), "jobs": JobsPane(),
                                            "dlq": DlqPane(), "queues": QueuesPane(),
                                            "config": ConfigPane()}
        self._tabs = TabbedContent(initial="overview")
        self._message = Static("", id="message")

    def compose(self):
        from ..store import display

        yield Static(f"queuectl · {display(self.location)}", id="top")
        with self._tabs:
            for name, label in TABS:
                with TabPane(label, id=name):
                    yield self._panes[name]
        yield self._message
        yield Footer()

    async def on_mount(self) -> None:
        await self.tick()
        self.set_interval(TICK_S, self.tick)

    # -- reading --------------------------------------------------------------------------

    async def tick(self) -> None:
        if self._busy:  # a slow store: skip a beat rather than pile up reads
            return
        self._busy = True
        try:
            await self._read_live()
            self._ticks += 1
            if self._ticks % self.active_pane().RELOAD_EVERY == 0:
                await self._reload_active()
        except QueuectlError as exc:
            self.say(str(exc), error=True)
        finally:
            self._busy = False

    async def _read_live(self) -> None:
        from ..core.reading import live_workers, load_settings
        from ..timeutil import now_ms

        counts = await self.store.count_by_state()
        workers = await live_workers(self.store, await load_settings(self.store), now_ms())
        if not self.is_running:  # quit while reading: the widgets are being taken down
            return
        self._panes["overview"].show(counts, workers)
        self._tabs.get_tab("dlq").label = f"3 DLQ ({counts['dead']:,})"

    def active_pane(self) -> LivePane:
        return self._panes[self._tabs.active]

    async def _reload_active(self) -> None:
        """A store error is a message line, never the end of the app."""
        try:
            await self.active_pane().reload(self.store)
        except QueuectlError as exc:
            self.say(str(exc), error=True)

    def reload_pane(self) -> None:
        self.run_worker(self._reload_active(), group="reload", exclusive=True)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.active_pane().query("DataTable").last().focus()
        self.reload_pane()

    def action_tab(self, name: str) -> None:
        self._tabs.active = name

    def say(self, text: str, *, error: bool = False) -> None:
        if not self.is_running:
            return
        self._message.update(f"error: {text}" if error else text)
        self._message.set_class(error, "error")

    def after_form(self, message: str | None) -> None:
        if message:
            self.say(message)
            self.reload_pane()

    # -- actions --------------------------------------------------------------------------

    def action_enqueue(self) -> None:
        fields = [Field("command", "command"), Field("id", "id", placeholder="generated"),
                  Field("max_retries", "max_retries", placeholder="config max-retries"),
                  Field("priority", "priority", placeholder="0"),
                  Field("timeout", "timeout", placeholder="config job-timeout (90, 5m, 1h30m)"),
                  Field("delay", "delay", placeholder="0 (90, 5m, 1h30m)")]
        self.push_screen(FormScreen("Enqueue a job", fields, self.enqueue, ok="Enqueue"),
                         self.after_form)

    async def enqueue(self, values: dict[str, str]) -> str:
        """The validation of `queuectl enqueue` (spec.build_jobs), then one insert."""
        from ..documents import document_from_form
        from ..spec import build_jobs
        from ..timeutil import now_ms

        jobs = build_jobs([("", document_from_form(values))], {}, now=now_ms())
        inserted = await self.store.insert_jobs(jobs, now=now_ms())
        return f"enqueued {inserted[0].id}"

    async def action_start_worker(self) -> None:
        from ..core.reading import load_settings
        from ..detach import default_log_path

        settings = await load_settings(self.store)
        fields = [Field("count", "concurrency", str(settings.worker_count)),
                  Field("log_file", "log file", placeholder=str(default_log_path(self.location)))]
        self.push_screen(FormScreen("Start a worker in the background", fields,
                                    self.start_worker, ok="Start"), self.after_form)

    async def start_worker(self, values: dict[str, str]) -> str:
        from ..detach import start_detached
        from ..errors import UsageError

        text = values["count"].strip()
        if not (text.isascii() and text.isdigit()):
            raise UsageError(f"--concurrency must be a whole number, got {text!r}")
        started = await start_detached(self.store, self.location, count=int(text),
                                       log_file=values["log_file"].strip() or None)
        return (f"worker {started.worker_id} started in the background: pid {started.pid}, "
                f"log {started.log_path}")

    def action_stop_workers(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.say("asking every worker to stop; running jobs finish first…")
                self.run_worker(self.stop_workers(), group="action")

        self.push_screen(Confirm("Stop every worker? (running jobs finish first)"), answered)

    async def stop_workers(self) -> None:
        """`worker stop` (core.actions.stop_workers), in its words."""
        from ..core.actions import stop_workers

        try:
            asked, left = await stop_workers(self.store, STOP_TIMEOUT_S)
        except QueuectlError as exc:
            self.say(str(exc), error=True)
            return
        if not asked:
            self.say("no worker was running")
        elif not left:
            self.say(f"{plural(len(asked), 'worker')} stopped")
        else:
            self.say(f"{plural(len(left), 'worker')} still running after {STOP_TIMEOUT_S:g}s: "
                     f"{', '.join(sorted(left))}", error=True)

    def retry(self, ids: list[str] | None) -> None:
        self.run_worker(self._retry(ids), group="action")

    async def _retry(self, ids: list[str] | None) -> None:
        from ..core.actions import retry_dead

        try:
            retried = await retry_dead(self.store, ids)
        except QueuectlError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"retried {', '.join(retried)}" if retried else "the dead letter queue is empty",
                 error=not retried)
        await self._reload_active()

    def set_paused(self, name: str, *, paused: bool) -> None:
        self.run_worker(self._set_paused(name, paused), group="action")

    async def _set_paused(self, name: str, paused: bool) -> None:
        """`queue pause NAME` / `queue resume NAME`, in their words."""
        try:
            await self.store.set_queues([name], paused=paused)
        except QueuectlError as exc:
            self.say(str(exc), error=True)
            return
        self.say(f"{'paused' if paused else 'resumed'} {name}")
        await self._reload_active()

    def edit_config(self, key: str, value: str) -> None:
        self.push_screen(FormScreen(f"Set {key}", [Field("value", key, value)],
                                    lambda values: self.set_config(key, values["value"]),
                                    ok="Set"), self.after_form)

    async def set_config(self, key: str, value: str) -> str:
        """`config set`: the same validation and messages (settings.validate_setting)."""
        from ..settings import validate_setting

        name, text = validate_setting(key, value)
        await self.store.set_config(name, text)
        return f"{name}={text}"

    def confirm_cancel(self, job_id: str, say: Callable[[str, bool], None] | None = None) -> None:
        """`cancel ID` after a yes; `say(text, error)` shows the outcome (default: the message
        line), in the CLI's words: the errors it exits 1 with."""
        tell = say or (lambda text, error: self.say(text, error=error))

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._cancel(job_id, tell), group="action")

        self.push_screen(Confirm(f"Cancel job {job_id}? (a running job is killed by its "
                                 "worker)"), answered)

    async def _cancel(self, job_id: str, say: Callable[[str, bool], None]) -> None:
        from ..core.actions import cancel_jobs

        try:
            (job,) = await cancel_jobs(self.store, ids=[job_id])
        except QueuectlError as exc:
            say(str(exc), True)
            return
        say(cancelled_text(job), False)
        await self._reload_active()

    def show_job(self, job_id: str) -> None:
        self.push_screen(JobScreen(self.store, job_id))


def cancelled_text(job: Any) -> str:
    """What a cancel did: a waiting job is dead at once, a running one is its worker's to kill."""
    if job.state == "processing":
        return f"cancelling {job.id}: its worker is killing the running attempt"
    return f"cancelled {job.id} (now dead)"
