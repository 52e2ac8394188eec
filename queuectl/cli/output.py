"""Formatting for humans (plain aligned tables, colour only on a TTY) and scripts (JSON)."""

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from ..jobs import Job
from ..render import job_dict
from ..timeutil import format_ms

STATE_COLOURS = {"pending": "33", "processing": "36", "completed": "32", "failed": "35",
                 "dead": "31"}


def colour_enabled() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, state: str) -> str:
    code = STATE_COLOURS.get(state)
    return f"\033[{code}m{text}\033[0m" if code and colour_enabled() else text


def print_json(value: Any) -> None:
    import json  # tables need no json: not imported by plain `status` and `list`

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *,
                state_column: int | None = None, with_header: bool = True) -> None:
    sys.stdout.write(table_text(headers, rows, state_column=state_column,
                                with_header=with_header))


def table_text(headers: Sequence[str], rows: Iterable[Sequence[str]], *,
               state_column: int | None = None, with_header: bool = True) -> str:
    rows = [list(map(str, row)) for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    header = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    lines = [header] if with_header else []
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        if state_column is not None:
            cells[state_column] = paint(cells[state_column], row[state_column])
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n" if lines else ""


class JobListPrinter:
    """Formats jobs as they stream from the store: a JSON array or a table, chunk by chunk, so
    listing a million jobs never holds them all as objects (column widths are set per chunk).
    The text goes to a _Spool and reaches stdout only at finish(): a read that fails half way
    (a store lost for good) prints nothing rather than half a document."""

    CHUNK = 1000

    def __init__(self, *, json_out: bool) -> None:
        self.json_out = json_out
        self.count = 0
        self._chunk: list[Job] = []
        self._out = _Spool()

    def add(self, job: Job) -> None:
        self._chunk.append(job)
        if len(self._chunk) >= self.CHUNK:
            self._flush()

    def finish(self) -> int:
        self._flush()
        if self.json_out:
            self._out.write("[]\n" if not self.count else "\n]\n")
        self._out.copy_to(sys.stdout)
        return self.count

    def _flush(self) -> None:
        if not self._chunk:
            return
        if self.json_out:
            import json

            body = ",\n".join(_indent(json.dumps(job_dict(j), indent=2, ensure_ascii=False))
                              for j in self._chunk)
            self._out.write(("[\n" if not self.count else ",\n") + body)
        else:
            self._out.write(table_text(JOB_HEADERS, [job_row(j) for j in self._chunk],
                                       state_column=1, with_header=not self.count))
        self.count += len(self._chunk)
        self._chunk = []


class _Spool:
    """Text held in memory up to SPILL_AT characters, then in an anonymous temporary file."""

    SPILL_AT = 8 << 20

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._file: Any = None

    def write(self, text: str) -> None:
        if self._file is not None:
            self._file.write(text)
            return
        self._parts.append(text)
        self._size += len(text)
        if self._size > self.SPILL_AT:
            import tempfile  # only for listings of many thousand jobs

            self._file = tempfile.TemporaryFile(  # noqa: SIM115 - closed in copy_to
                "w+", encoding="utf-8", errors="surrogateescape")
            self._file.writelines(self._parts)
            self._parts = []

    def copy_to(self, stream: Any) -> None:
        if self._file is None:
            stream.write("".join(self._parts))
            return
        import shutil

        self._file.seek(0)
        shutil.copyfileobj(self._file, stream)
        self._file.close()


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def short(text: str | None, width: int) -> str:
    if text is None:
        return "-"
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def job_row(job: Job) -> list[str]:
    when = format_ms(job.run_at) or "-"
    return [job.id, job.state.value, str(job.attempts), str(job.priority), when,
            short(job.command, 40), short(job.last_error, 30)]


JOB_HEADERS = ["ID", "STATE", "ATTEMPTS", "PRIORITY", "RUN AT", "COMMAND", "LAST ERROR"]
