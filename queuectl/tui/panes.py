"""The four tabs. Each pane owns a table and a `reload(store)` that reads one page through
the store's verbs and repaints only when something changed (a TUI left open must cost
nearly nothing). Another tab is one more LivePane."""

from typing import Any

from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from ..jobs import STATES, Job, JobState
from .format import clip, short_time, state_cell

PAGE = 100  # rows per page of a job list (`n` / `p`: the older / newer page)


def add_columns(table: DataTable, columns: tuple[tuple[str, int], ...]) -> None:
    """Fixed widths, sized for 80 columns: a layout that never waits on Textual measuring
    cells (under load a table was seen drawn at its headers' widths until the next change)."""
    for label, width in columns:
        table.add_column(label, width=width)


class LivePane(Vertical):
    """A tab's content: `reload` is called when the tab is shown and every RELOAD_EVERY ticks."""

    RELOAD_EVERY = 2

    async def reload(self, store: Any) -> None:
        raise NotImplementedError

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)


def fill(table: DataTable, rows: list[tuple[str, list[Any]]]) -> None:
    """Replace the rows (key, cells), keeping the cursor on the same key when it is still there."""
    selected = selected_key(table)
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    keys = [key for key, _ in rows]
    if selected in keys:
        table.move_cursor(row=keys.index(selected), animate=False)


def selected_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


class OverviewPane(LivePane):
    """Counts per state and live workers: what the app refreshes every second."""

    def compose(self):
        with Horizontal():
            yield DataTable(id="counts", cursor_type="none", zebra_stripes=True)
            with Vertical(id="workers-box"):
                yield Static("", id="workers-title")
                yield DataTable(id="workers", cursor_type="row")

    def on_mount(self) -> None:
        add_columns(self.query_one("#counts", DataTable), (("STATE", 10), ("JOBS", 9)))
        add_columns(self.query_one("#workers", DataTable), (
            ("WORKER", 18), ("PID", 7), ("SLOTS", 5), ("RUN", 3), ("BEAT", 8)))
        self._shown: tuple = ()

    async def reload(self, store: Any) -> None:
        pass  # the app pushes counts and workers here (show) on its own tick

    def show(self, counts: dict[str, int], workers: list) -> None:
        shown = (tuple(counts.items()), tuple((w.id, w.running, w.heartbeat_at) for w in workers))
        if shown == self._shown:
            return
        self._shown = shown
        rows = [(s, [state_cell(s), f"{counts[s]:,}"]) for s in STATES]
        rows.append(("total", ["total", f"{sum(counts.values()):,}"]))
        fill(self.query_one("#counts", DataTable), rows)
        running = sum(w.running for w in workers)
        self.query_one("#workers-title", Static).update(
            f"{len(workers)} worker(s), {running} job(s) running")
        fill(self.query_one("#workers", DataTable),
             [(w.id, [clip(w.id, 18), str(w.pid), str(w.concurrency), str(w.running),
                      short_time(w.heartbeat_at)[-8:]]) for w in workers])


class JobsPane(LivePane):
    """Jobs newest first, one state or all, a page at a time (the store's keyset pages, as
    the dashboard's); Enter opens one with its history and output."""

    BINDINGS = [
        Binding("s", "next_state", "State"),
        Binding("f", "filter", "Filter"),
        Binding("c", "cancel", "Cancel"),
        Binding("n", "older", "Older", show=False),  # in the title when there is a page
        Binding("p", "newer", "Newer", show=False),
    ]
    FILTERS: tuple[str | None, ...] = (None, *STATES)
    COLUMNS = (("ID", 22), ("STATE", 10), ("TRY", 3), ("PRI", 3), ("UPDATED", 14),
               ("COMMAND", 40))
    INITIAL_STATE: str | None = None

    def compose(self):
        yield Static("", classes="pane-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:  # Textual runs each class's on_mount: subclasses set attributes
        add_columns(self.table, self.COLUMNS)
        self.state: str | None = self.INITIAL_STATE
        self.queue: str | None = None  # exact filters, as `cancel --queue/--batch` names them
        self.batch: str | None = None
        self.cursor: dict[str, int] = {}  # {} = the newest page; else before= or after=
        self.page = None
        self._shown: list = []

    def describe(self) -> str:
        named = "".join(f" {k}: {v}" for k, v in (("queue", self.queue), ("batch", self.batch)) if v)
        return f"state: {self.state or 'all'}{named} (Enter: show)"

    async def reload(self, store: Any) -> None:
        state = JobState(self.state) if self.state else None
        page = await store.page_jobs(state=state, queue=self.queue, batch=self.batch,
                                     limit=PAGE, **self.cursor)
        if not self.app.is_running:  # quit while reading
            return
        self.page = page
        more = "".join(hint for hint, cursor in ((" n: older", page.older), (" p: newer", page.newer))
                       if cursor is not None)
        self.query_one(".pane-title", Static).update(
            f"{self.describe()} · {len(page.jobs)} jobs{more}")
        rows = [(job.id, self.cells(job)) for job in page.jobs]
        if rows != self._shown:
            self._shown = rows
            fill(self.table, rows)

    def cells(self, job: Job) -> list[Any]:
        return [clip(job.id, 22), state_cell(job.state.value), str(job.attempts),
                str(job.priority), short_time(job.updated_at), clip(job.command, 40)]

    def action_next_state(self) -> None:
        self.state = self.FILTERS[(self.FILTERS.index(self.state) + 1) % len(self.FILTERS)]
        self.cursor = {}
        self.app.reload_pane()

    def action_older(self) -> None:
        if self.page is not None and self.page.older is not None:
            self.cursor = {"before": self.page.older}
            self.app.reload_pane()

    def action_newer(self) -> None:
        if self.page is not None and self.page.newer is not None:
            self.cursor = {"after": self.page.newer}
            self.app.reload_pane()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.show_job(event.row_key.value)

    def action_filter(self) -> None:
        from .forms import Field, FormScreen

        fields = [Field("queue", "queue", self.queue or "", placeholder="every queue"),
                  Field("batch", "batch", self.batch or "", placeholder="every batch")]
        self.app.push_screen(FormScreen("Show the jobs of one queue and/or batch", fields,
                                        self.set_filters, ok="Filter"), self.app.after_form)

    async def set_filters(self, values: dict[str, str]) -> str:
        """Empty: no filter. A bad name is the CLI's exit-2 message, in the form."""
        from ..spec import MAX_BATCH_LENGTH, MAX_QUEUE_LENGTH, check_name_flag

        queue, batch = values["queue"].strip() or None, values["batch"].strip() or None
        check_name_flag("queue", queue, MAX_QUEUE_LENGTH)
        check_name_flag("batch", batch, MAX_BATCH_LENGTH)
        self.queue, self.batch, self.cursor = queue, batch, {}
        named = ", ".join(f"{k} {v}" for k, v in (("queue", queue), ("batch", batch)) if v)
        return f"jobs of {named}" if named else "jobs of every queue and batch"

    def action_cancel(self) -> None:
        job_id = selected_key(self.table)
        if job_id is None:
            self.app.say("no job to cancel", error=True)
        else:
            self.app.confirm_cancel(job_id)


class DlqPane(JobsPane, inherit_bindings=False):  # JobsPane's `s` would leave the DLQ
    """The dead letter queue: retry the selected job or all of them."""

    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("a", "retry_all", "Retry all"),
        Binding("n", "older", "Older", show=False),  # in the title: the footer fits 80 columns
        Binding("p", "newer", "Newer", show=False),
    ]
    COLUMNS = (("ID", 22), ("STATE", 10), ("TRY", 3), ("PRI", 3), ("UPDATED", 14),
               ("LAST ERROR", 40))
    INITIAL_STATE = "dead"

    def describe(self) -> str:
        return "DLQ (r: retry, a: retry all, Enter: show)"

    def cells(self, job: Job) -> list[Any]:
        return [clip(job.id, 22), state_cell(job.state.value), str(job.attempts),
                str(job.priority), short_time(job.updated_at), clip(job.last_error or "", 40)]

    def action_retry(self) -> None:
        job_id = selected_key(self.table)
        if job_id is None:
            self.app.say("the dead letter queue is empty", error=True)
        else:
            self.app.retry([job_id])

    def action_retry_all(self) -> None:
        self.app.retry(None)


class QueuesPane(LivePane):
    """Every queue with jobs or settings: paused, limit, counts; pause and resume."""

    BINDINGS = [Binding("z", "pause", "Pause"), Binding("u", "resume", "Resume")]

    def compose(self):
        yield Static("queues (z: pause, u: resume the selected queue)", classes="pane-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        add_columns(self.table, (("QUEUE", 20), ("PAUSED", 6), ("LIMIT", 5), ("PENDING", 8),
                                 ("RUNNING", 8), ("DEAD", 8)))
        self._shown: list = []

    async def reload(self, store: Any) -> None:
        queues = await store.list_queues()
        if not self.app.is_running:
            return
        rows = [(q.name, [clip(q.name, 20), "yes" if q.paused else "no", str(q.limit or "-"),
                          f"{q.counts.get('pending', 0):,}", f"{q.counts.get('processing', 0):,}",
                          f"{q.counts.get('dead', 0):,}"]) for q in queues]
        if rows != self._shown:
            self._shown = rows
            fill(self.table, rows)

    def action_pause(self) -> None:
        self._set(paused=True)

    def action_resume(self) -> None:
        self._set(paused=False)

    def _set(self, *, paused: bool) -> None:
        name = selected_key(self.table)
        if name is None:
            self.app.say("no queue yet", error=True)
        else:
            self.app.set_paused(name, paused=paused)


class ConfigPane(LivePane):
    """Every config key with its effective value; Enter sets the selected one."""

    BINDINGS = [Binding("enter", "edit", "Set", priority=True)]

    def compose(self):
        yield Static("config (Enter: set the selected key)", classes="pane-title")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        add_columns(self.table, (("KEY", 12), ("VALUE", 10), ("SOURCE", 7), ("MEANING", 40)))
        self._shown: list = []

    async def reload(self, store: Any) -> None:
        from ..settings import KEYS, Settings, format_value

        stored = await store.get_config()
        if not self.app.is_running:  # quit while reading
            return
        settings = Settings.from_stored(stored)
        rows = [(key, [key, format_value(settings.value(key)),
                       "set" if key in stored else "default", clip(spec.help, 40)])
                for key, spec in KEYS.items()]
        if rows != self._shown:
            self._shown = rows
            fill(self.table, rows)

    def action_edit(self) -> None:
        key = selected_key(self.table)
        if key is not None:
            self.app.edit_config(key, self._shown_value(key))

    def _shown_value(self, key: str) -> str:
        return next(cells[1] for k, cells in self._shown if k == key)
