"""The job listing reaches stdout whole or not at all (a read that fails half way prints nothing)."""

import json

from queuectl.cli import output
from queuectl.jobs import Job, JobState


def _job(n: int) -> Job:
    return Job(f"j{n:05d}", "true", JobState.PENDING, 0, 3, 0, 1_800_000_000_000, None, None,
               None, 1_800_000_000_000, 1_800_000_000_000)


def test_a_listing_cut_short_prints_nothing(capsys):
    printer = output.JobListPrinter(json_out=True)
    for n in range(2500):  # more than two chunks: the old printer had written two of them
        printer.add(_job(n))
    assert capsys.readouterr().out == ""  # the store failed here: finish() is never called


def test_a_finished_listing_is_one_complete_document(capsys, monkeypatch):
    monkeypatch.setattr(output._Spool, "SPILL_AT", 10_000)  # spill to a temporary file
    printer = output.JobListPrinter(json_out=True)
    for n in range(2500):
        printer.add(_job(n))
    assert printer.finish() == 2500
    assert [j["id"] for j in json.loads(capsys.readouterr().out)] == [
        f"j{n:05d}" for n in range(2500)]


def test_a_table_listing_has_one_header_and_every_row(capsys):
    printer = output.JobListPrinter(json_out=False)
    for n in range(1500):
        printer.add(_job(n))
    printer.finish()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ID") and len(lines) == 1501
