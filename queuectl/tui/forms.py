"""Modal screens: one form class for enqueue, start worker and config set, a yes/no
question, and the job detail (job, attempt history, output of the latest attempt).

A form calls its `submit` with the field texts. A QueuectlError from it (the same error, and
message, the CLI would print after `error:`) is shown in the form, which stays open: nothing
was created, and the user can fix the field. Success closes it with a message for the app."""

import codecs
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Static

from ..errors import QueuectlError
from ..jobs import JobState
from .format import dash, seconds, short_time, state_cell
from .panes import add_columns

FOLLOW_KEPT = 200_000  # characters of a followed output kept on screen: the rest is in `logs`


class Field(NamedTuple):
    name: str
    label: str
    value: str = ""
    placeholder: str = ""


Submit = Callable[[dict[str, str]], Awaitable[str]]


class FormScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[Field], submit: Submit, *, ok: str) -> None:
        super().__init__()
        self.title_text, self.fields, self.submit, self.ok = title, fields, submit, ok

    def compose(self):
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            for field in self.fields:
                with Horizontal(classes="row"):
                    yield Label(field.label, classes="field-label")
                    yield Input(field.value, placeholder=field.placeholder, id=f"f-{field.name}",
                                compact=True)  # one line each: the enqueue form fits in 24 rows
            yield Static("", id="form-error")
            with Horizontal(classes="buttons"):
                yield Label("Tab: next field", classes="hint")
                yield Button(f"{self.ok} (Enter)", id="ok", variant="primary", compact=True)
                yield Button("Cancel (Esc)", id="cancel", compact=True)

    def values(self) -> dict[str, str]:
        return {f.name: self.query_one(f"#f-{f.name}", Input).value for f in self.fields}

    async def on_input_submitted(self) -> None:
        await self.send()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            await self.send()
        else:
            self.dismiss(None)

    async def send(self) -> None:
        error = self.query_one("#form-error", Static)
        error.update("working…")
        try:
            message = await self.submit(self.values())
        except QueuectlError as exc:
            error.update(f"error: {exc}")
            return
        self.dismiss(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self):
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            yield Label("y: yes   n / Esc: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class JobScreen(ModalScreen[None]):
    """One job: its fields, attempt history and the latest attempt's output, re-read when
    the job changes. While an attempt runs, its output is followed as its worker writes it
    (follow.Follower, the reading side of `logs --follow`), on Textual's loop."""

    BINDINGS = [Binding("escape,q", "close", "Close"), Binding("c", "cancel_job", "Cancel job")]

    def __init__(self, store: Any, job_id: str) -> None:
        super().__init__()
        self.store, self.job_id = store, job_id
        self._version: tuple | None = None
        self._followed = 0  # the attempt whose output is shown live (0: none yet)

    def compose(self):
        with Vertical(classes="detail"):
            yield Static("", id="job-fields")
            yield DataTable(id="history", cursor_type="none")
            with VerticalScroll(id="output-box"):
                yield Static("", id="output", markup=False)
            yield Static("", id="job-message")
            yield Label("Esc / q: close   c: cancel the job   (a running job's output follows)",
                        classes="hint")

    async def on_mount(self) -> None:
        add_columns(self.query_one("#history", DataTable), (
            ("#", 3), ("STARTED", 14), ("EXIT", 4), ("DURATION", 9), ("ERROR", 40)))
        await self.reload()
        self.set_interval(2.0, self.reload)

    async def reload(self) -> None:
        """Read everything first, then paint in one go (nothing to paint once quitting)."""
        output = None
        try:
            job = await self.store.get_job(self.job_id)
            version = (job.state, job.run_no, job.updated_at)
            if version == self._version:
                return
            history = await self.store.attempts(self.job_id)
            if not self._followed:  # a followed attempt keeps what was shown live
                output = await self._output(job)
        except QueuectlError as exc:
            job, history, output = None, [], f"error: {exc}"
        if not self.app.is_running:
            return
        if job is not None:
            self._version = version
            self._follow_if_running(job)
        self.query_one("#job-fields", Static).update(describe(job) if job else "")
        table = self.query_one("#history", DataTable)
        table.clear()
        for a in history:
            table.add_row(str(a.n), short_time(a.started_at), dash(a.exit_code),
                          seconds(a.duration), a.error or "-")
        if output is not None:
            self.query_one("#output", Static).update(output)

    def _follow_if_running(self, job) -> None:
        if job.state == JobState.PROCESSING and job.run_no > self._followed:
            self._followed = job.run_no
            self.run_worker(self._follow(job.run_no), group="follow", exclusive=True)

    async def _follow(self, attempt: int) -> None:
        """Append each piece as it is read; stderr in red. Ends with the attempt."""
        from rich.text import Text

        from ..follow import STDERR, Follower

        decoders = {n: codecs.getincrementaldecoder("utf-8")("replace") for n in (1, 2)}
        shown = Text(f"--- attempt {attempt}, followed as it runs (stderr in red) ---\n")
        self._show_live(shown)
        try:
            async for stream, data in Follower(self.store, self.job_id).pieces():
                shown.append(decoders[stream].decode(data), "red" if stream == STDERR else "")
                shown = shown[-FOLLOW_KEPT:] if len(shown) > FOLLOW_KEPT else shown
                self._show_live(shown)
            shown.append(f"--- attempt {attempt} ended ---\n")
        except QueuectlError as exc:
            shown.append(f"\n(error: {exc})\n")
        self._show_live(shown)

    def _show_live(self, text: Any) -> None:
        """Repaint the output, keeping it scrolled to the end unless the user scrolled up."""
        if not self.is_attached:
            return
        box = self.query_one("#output-box", VerticalScroll)
        at_end = box.scroll_y >= box.max_scroll_y
        self.query_one("#output", Static).update(text)
        if at_end:
            box.call_after_refresh(box.scroll_end, animate=False)

    async def _output(self, job) -> str:
        if not job.run_no:
            return "(no attempt yet)"
        try:
            out = await self.store.output(self.job_id, None)
        except QueuectlError as exc:
            return f"(no output: {exc})"
        return (f"--- attempt {out.attempt} stdout ---\n{out.stdout.decode(errors='replace')}"
                f"--- stderr ---\n{out.stderr.decode(errors='replace')}")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_cancel_job(self) -> None:
        self.app.confirm_cancel(self.job_id, self.say)

    def say(self, text: str, error: bool) -> None:
        if self.is_attached:
            message = self.query_one("#job-message", Static)
            message.update(f"error: {text}" if error else text)
            message.set_class(error, "error")
            self._version = None  # repaint the job's new state now
            self.call_later(self.reload)


def describe(job) -> Any:
    from rich.text import Text

    line = Text.assemble(
        (job.id, "bold"), "  ", state_cell(job.state.value),
        f"  attempts {job.attempts}/{job.max_retries + 1}  priority {job.priority}"
        f"  timeout {dash(job.timeout)}\n",
        f"{job.command}\n",
        f"created {short_time(job.created_at)}  updated {short_time(job.updated_at)}"
        f"  run at {short_time(job.run_at)}  exit {dash(job.exit_code)}"
        f"  error {job.last_error or '-'}\n",
        f"queue {job.queue}  batch {dash(job.batch)}  cwd {dash(job.cwd)}")
    return line
