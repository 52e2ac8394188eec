"""spec.py: every rule that makes a job document or flag an exit-2 usage error."""

import contextlib
import math
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuectl.documents import documents_from_arg, documents_from_file
from queuectl.errors import InvalidJobError, UsageError
from queuectl.spec import (
    FIELDS,
    MAX_ID_LENGTH,
    MAX_SECONDS,
    TIMEOUT_ALIASES,
    IdSource,
    build_job,
    build_jobs,
)

NOW = 1_800_000_000_000


def build(doc, **overrides):
    return build_job(doc, overrides, now=NOW)


def rejects(doc, fragment="", **overrides):
    with pytest.raises(UsageError) as info:  # build_jobs wraps these as InvalidJobError
        build(doc, **overrides)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2
    return str(info.value)


# -- a valid document ------------------------------------------------------------------


def test_minimal_job_gets_defaults_and_a_generated_id():
    job = build({"command": "echo hi"})
    assert job.command == "echo hi"
    assert job.max_retries is None and job.priority == 0 and job.run_at is None
    assert job.timeout is None and job.id


def test_every_field_is_taken():
    job = build({"id": "j1", "command": "true", "max_retries": 5, "priority": -3,
                 "run_at": "2030-01-01T00:00:00Z", "timeout": 2.5})
    assert (job.id, job.max_retries, job.priority, job.timeout) == ("j1", 5, -3, 2.5)
    assert job.run_at == 1_893_456_000_000


def test_generated_ids_are_unique_and_sortable():
    source = IdSource(NOW)
    ids = [source.next() for _ in range(10_000)]  # several refills of the random pool
    assert len(set(ids)) == 10_000
    assert all(len(i) == 22 and i.startswith(f"{NOW:011x}-") for i in ids)
    assert IdSource(NOW).next().split("-")[0] < IdSource(NOW + 1).next().split("-")[0]


# -- exit-2 rules ------------------------------------------------------------------------


def test_unknown_field_is_named():
    assert "'colour'" in rejects({"command": "true", "colour": "red"}, "unknown field")


def test_missing_command():
    rejects({"id": "x"}, "command")


@pytest.mark.parametrize("command", ["", "   ", "\t\n"])
def test_blank_command(command):
    rejects({"command": command}, "blank")


def test_nul_in_command():
    rejects({"command": "echo a\0b"}, "NUL")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("command", 5), ("command", None), ("command", ["ls"]),
        ("id", 7), ("id", None),
        ("max_retries", "3"), ("max_retries", 1.5), ("max_retries", True), ("max_retries", None),
        ("priority", "1"), ("priority", 2.0), ("priority", False),
        ("delay", "5"), ("delay", True), ("delay", None),
        ("timeout", "5"), ("timeout", True), ("timeout", [1]),
        ("run_at", 1_800_000_000), ("run_at", None),
    ],
)
def test_wrong_types(field, value):
    doc = {"command": "true", field: value}
    rejects(doc, field)


@pytest.mark.parametrize("job_id", ["", "a b", "tab\there", "ctl\x01", "x" * (MAX_ID_LENGTH + 1)])
def test_bad_ids(job_id):
    rejects({"command": "true", "id": job_id}, "id")


def test_longest_id_is_accepted():
    assert build({"command": "true", "id": "x" * MAX_ID_LENGTH}).id == "x" * MAX_ID_LENGTH


def test_negative_max_retries():
    rejects({"command": "true", "max_retries": -1}, "max_retries")


def test_max_retries_zero_is_fine():
    assert build({"command": "true", "max_retries": 0}).max_retries == 0


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1])
def test_priority_out_of_int32(value):
    rejects({"command": "true", "priority": value}, "priority")


@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5])
def test_timeout_must_be_positive(value):
    rejects({"command": "true", "timeout": value}, "timeout must be > 0")


def test_negative_delay():
    rejects({"command": "true", "delay": -1}, "delay must be >= 0")


def test_zero_delay_is_due_now():
    assert build({"command": "true", "delay": 0}).run_at == NOW


def test_delay_sets_run_at_from_now():
    assert build({"command": "true", "delay": 1.5}).run_at == NOW + 1500


@pytest.mark.parametrize("field", ["delay", "timeout"])
def test_seconds_beyond_ten_years(field):
    rejects({"command": "true", field: MAX_SECONDS + 1}, field)


@pytest.mark.parametrize("field", ["delay", "timeout"])
def test_infinite_seconds(field):
    rejects({"command": "true", field: math.inf}, field)


def test_run_at_without_offset():
    rejects({"command": "true", "run_at": "2030-01-01T00:00:00"}, "offset")


def test_run_at_not_a_time():
    rejects({"command": "true", "run_at": "tomorrow"}, "ISO-8601")


def test_run_at_with_offset():
    job = build({"command": "true", "run_at": "2030-01-01T02:00:00+02:00"})
    assert job.run_at == 1_893_456_000_000


def test_run_at_and_delay_together():
    rejects({"command": "true", "run_at": "2030-01-01T00:00:00Z", "delay": 5}, "not both")


@pytest.mark.parametrize("alias", TIMEOUT_ALIASES)
def test_timeout_aliases(alias):
    assert build({"command": "true", alias: 3}).timeout == 3.0


def test_two_timeout_aliases_conflict():
    rejects({"command": "true", "timeout": 3, "timeout_sec": 3}, "not several")


def test_timeout_alias_is_validated():
    rejects({"command": "true", "timeout_seconds": 0}, "timeout")


def test_not_an_object():
    rejects(["true"], "JSON object")


# -- flags override fields ------------------------------------------------------------


def test_flags_override_document_fields():
    job = build({"command": "true", "priority": 1, "max_retries": 1},
                priority=9, max_retries=0, id="from-flag", timeout=4)
    assert (job.priority, job.max_retries, job.id, job.timeout) == (9, 0, "from-flag", 4.0)


def test_unset_flags_do_not_override():
    job = build({"command": "true", "priority": 1}, priority=None, delay=None, run_at=None)
    assert job.priority == 1 and job.run_at is None


def test_run_at_flag_replaces_document_delay():
    job = build({"command": "true", "delay": 100}, run_at="2030-01-01T00:00:00Z")
    assert job.run_at == 1_893_456_000_000


def test_delay_flag_replaces_document_run_at():
    job = build({"command": "true", "run_at": "2030-01-01T00:00:00Z"}, delay=2)
    assert job.run_at == NOW + 2000


def test_flag_timeout_replaces_an_alias():
    assert build({"command": "true", "timeout_sec": 5}, timeout=7).timeout == 7.0


def test_flag_values_are_validated():
    rejects({"command": "true"}, "max_retries", max_retries=-2)


# -- the positional JOB ------------------------------------------------------------------


def test_plain_text_is_a_shell_command():
    docs = documents_from_arg("echo 'Hello QueueCTL'")
    assert docs == [("", {"command": "echo 'Hello QueueCTL'"})]


def test_text_starting_with_brace_must_be_json():
    with pytest.raises(InvalidJobError, match="bad JSON"):
        documents_from_arg("{echo hi}")


def test_only_a_job_that_starts_with_a_brace_or_bracket_is_json():
    # the contract, literally: ' { a; b; }' is a shell group command, not broken JSON
    assert documents_from_arg(" { echo hi; }") == [("", {"command": " { echo hi; }"})]


def test_json_array_argument_names_indexes():
    docs = documents_from_arg('[{"command": "a"}, {"command": "b"}]')
    assert [where for where, _ in docs] == ["index 0", "index 1"]


def test_nan_rejected_in_argument():
    with pytest.raises(InvalidJobError, match="NaN"):
        documents_from_arg('{"command": "true", "timeout": NaN}')


# -- --file -----------------------------------------------------------------------------


def jobs_from_file(text, **overrides):
    return build_jobs(documents_from_file(text), overrides, now=NOW)


def test_file_with_one_object():
    assert [j.id for j in jobs_from_file('{"id": "a", "command": "true"}')] == ["a"]


def test_file_with_a_pretty_printed_object():
    assert [j.id for j in jobs_from_file('{\n  "id": "a",\n  "command": "true"\n}\n')] == ["a"]


def test_file_with_an_array():
    jobs = jobs_from_file('[{"id": "a", "command": "x"}, {"id": "b", "command": "y"}]')
    assert [j.id for j in jobs] == ["a", "b"]


def test_file_with_json_lines():
    text = '{"id": "a", "command": "x"}\n\n{"id": "b", "command": "y"}\n'
    assert [j.id for j in jobs_from_file(text)] == ["a", "b"]


def test_array_error_names_the_index():
    text = '[{"command": "x"}, {"command": "y"}, {"command": ""}]'
    with pytest.raises(InvalidJobError, match="index 2"):
        jobs_from_file(text)


def test_json_lines_validation_error_names_the_line():
    text = '{"command": "x"}\n\n{"command": "y", "bogus": 1}\n'
    with pytest.raises(InvalidJobError, match="line 3"):
        jobs_from_file(text)


def test_json_lines_syntax_error_names_the_line():
    text = '{"command": "x"}\n{"command": "y"}\n{"command": \n'
    with pytest.raises(InvalidJobError, match="line 3"):
        jobs_from_file(text)


def test_nan_rejected_in_json_lines():
    with pytest.raises(InvalidJobError, match="line 2"):
        jobs_from_file('{"command": "x"}\n{"command": "y", "delay": NaN}\n')


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_rejected_in_a_file(constant):
    with pytest.raises(InvalidJobError):
        jobs_from_file(f'{{"command": "x", "timeout": {constant}}}')


def test_empty_file():
    with pytest.raises(InvalidJobError, match="no jobs"):
        documents_from_file("  \n")


def test_array_of_non_objects():
    with pytest.raises(InvalidJobError, match="index 0"):
        jobs_from_file('["echo hi"]')


def test_repeated_id_in_one_input():
    text = '{"id": "a", "command": "x"}\n{"id": "b", "command": "y"}\n{"id": "a", "command": "z"}\n'
    with pytest.raises(InvalidJobError, match="^line 3: id 'a' appears twice"):
        jobs_from_file(text)


@pytest.mark.parametrize("text", ["[]", " [ ] "])
def test_an_empty_array_is_no_jobs(text):
    with pytest.raises(InvalidJobError, match="no jobs in input"):
        jobs_from_file(text)
    with pytest.raises(InvalidJobError, match="no jobs in input"):
        build_jobs(documents_from_arg(text.strip()), {}, now=NOW)


def test_overrides_apply_to_every_document():
    jobs = jobs_from_file('[{"command": "x"}, {"command": "y", "priority": 1}]', priority=7)
    assert [j.priority for j in jobs] == [7, 7]


# -- properties ---------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=30))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
# Years 2..9998 here; the out-of-range edges have their own test below.
iso_like = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                        timezones=st.timezones()).map(lambda d: d.isoformat())
keys = st.sampled_from(FIELDS + TIMEOUT_ALIASES) | st.text(max_size=8)
documents = st.dictionaries(keys, json_values | iso_like, max_size=6)


@settings(max_examples=100, deadline=None)
@given(documents)
def test_build_job_raises_only_usage_errors(doc):
    """Whatever JSON a user sends, the answer is a job or an exit-2 error, never a traceback."""
    try:
        job = build(doc)
    except UsageError:
        return
    assert job.command.strip() and "\0" not in job.command


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["delay", "timeout", "max_retries", "priority"]),
                       st.integers(-(10**300), 10**300) | st.floats(), max_size=4))
def test_numeric_fields_raise_only_usage_errors(fields):
    with contextlib.suppress(UsageError):
        build({"command": "true", **fields})


@pytest.mark.parametrize("field", ["delay", "timeout"])
def test_huge_integer_seconds_are_a_usage_error(field):
    rejects({"command": "true", field: 10**400}, field)


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_run_at_out_of_range_is_a_usage_error(stamp):
    rejects({"command": "true", "run_at": stamp})


def test_a_nan_or_infinity_in_an_array_names_its_index():
    text = '[{"command": "true"}, {"command": "true", "max_retries": Infinity}]'
    for parse in (documents_from_arg, documents_from_file):
        with pytest.raises(UsageError, match=r"^index 1: bad JSON: Infinity is not a valid"):
            parse(text)
    with pytest.raises(UsageError, match=r"^line 2: bad JSON: NaN is not a valid"):
        documents_from_file('{"command": "true"}\n{"command": "true", "priority": [NaN]}\n')


def test_a_form_document_is_validated_like_enqueue_json():
    from queuectl.documents import document_from_form

    doc = document_from_form({"command": "echo hi", "id": "", "max_retries": " 2 ",
                              "priority": "-3", "timeout": "1.5", "delay": "1h30m"})
    assert doc == {"command": "echo hi", "max_retries": 2, "priority": -3, "timeout": 1.5,
                   "delay": 5400}
    assert build_jobs([("", doc)], {}, now=0)[0].timeout == 1.5
    with pytest.raises(InvalidJobError, match="max_retries must be a whole number, got 'two'"):
        document_from_form({"command": "x", "max_retries": "two"})
    with pytest.raises(InvalidJobError, match="priority must be a whole number"):
        document_from_form({"command": "x", "priority": "\u0663"})
    with pytest.raises(InvalidJobError, match="delay: not a duration"):
        document_from_form({"command": "x", "delay": "soon"})
    with pytest.raises(InvalidJobError, match="timeout must be > 0"):
        build_jobs([("", document_from_form({"command": "x", "timeout": "0"}))], {}, now=0)
    with pytest.raises(InvalidJobError, match="command"):
        build_jobs([("", document_from_form({"command": "  "}))], {}, now=0)
