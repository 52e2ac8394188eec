"""Attack 4: bad input, fuzzed with hypothesis through the real CLI entry point.

In-process (`queuectl.cli.entry.main`, SystemExit caught, output captured) so a hundred
examples cost seconds, plus a handful of real processes for argv bytes that are not UTF-8.
Every invocation must exit 0, 1 (only for a duplicate id) or 2, print one `error:` line on
failure and never a traceback, and change the store all-or-nothing.
"""

import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from queuectl.cli.entry import main

from .conftest import QUEUECTL, db_query

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
FIELDS = ["id", "command", "max_retries", "priority", "run_at", "delay", "timeout",
          "timeout_sec", "timeout_seconds", "bogus", ""]
plausible = {
    "id": st.text(max_size=140) | values,
    "command": st.sampled_from(["true", "echo hi", "", "   ", "a\0b"]) | st.text(max_size=30) | values,
    "max_retries": st.integers(-3, 2**40) | values,
    "priority": st.integers(-(2**40), 2**40) | values,
    "run_at": st.sampled_from(["2030-01-01T00:00:00Z", "2030-01-01T00:00:00", "yesterday",
                               "2030-13-01T00:00:00+02:00", ""]) | values,
    "delay": st.floats(-10, 1e12) | values,
}
documents = st.dictionaries(st.sampled_from(FIELDS),
                            values, max_size=5).flatmap(
    lambda d: st.fixed_dictionaries({k: plausible.get(k, values) for k in d}))


class Invoker:
    def __init__(self, capsys, db):
        self.capsys, self.db = capsys, db

    def __call__(self, *args: str):
        self.capsys.readouterr()
        try:
            main(["--db", str(self.db), *args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err and "Traceback" not in out, err
        if code != 0:
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
            assert out == "", (args, out)
        return code, out, err

    def jobs(self) -> int:
        return db_query(self.db, "SELECT count(*) FROM jobs")[0][0] if self.db.exists() else 0


@pytest.fixture
def cli(capsys, tmp_path):
    invoke = Invoker(capsys, tmp_path / "fuzz.db")
    assert invoke("status")[0] == 0  # the store exists before the first count
    return invoke


def expect_codes(code, err, allowed=(0, 2)):
    if code == 1:
        assert "already exists" in err, err  # the only runtime failure a new job can meet
    else:
        assert code in allowed, (code, err)


@FUZZ
@given(doc=documents)
def test_fuzzed_job_documents(cli, doc):
    before = cli.jobs()
    code, out, err = cli("enqueue", json.dumps(doc, allow_nan=True))
    expect_codes(code, err)
    assert cli.jobs() - before == (1 if code == 0 else 0)
    if code == 0:
        assert len(out.split()) == 1


@FUZZ
@given(docs=st.lists(documents | st.just({"command": "true"}), min_size=1, max_size=6),
       form=st.sampled_from(["array", "lines"]))
def test_fuzzed_bulk_files_are_all_or_nothing(cli, tmp_path, docs, form):
    path = tmp_path / "bulk.json"
    text = json.dumps(docs) if form == "array" else "\n".join(json.dumps(d) for d in docs)
    path.write_text(text)
    before = cli.jobs()
    code, out, err = cli("enqueue", "--file", str(path))
    expect_codes(code, err)
    assert cli.jobs() - before == (len(docs) if code == 0 else 0), (code, err)
    if code != 0 and len(docs) > 1 and "appears twice" not in err and "already exists" not in err:
        assert "index" in err or "line" in err, f"the error must name the bad entry: {err}"


@FUZZ
@given(text=st.tuples(st.sampled_from(["{", "[", " {", "[{", '{"command":', '[{"command": "true"},']),
                     st.text(max_size=120) | st.binary(max_size=120).map(lambda b: b.decode("latin-1"))
                     ).map("".join))
def test_fuzzed_raw_json_text(cli, text):
    before = cli.jobs()
    code, _, err = cli("enqueue", text)
    expect_codes(code, err)
    assert code == 0 or cli.jobs() == before


flag_values = st.text(max_size=12) | st.integers().map(str) | st.floats().map(str)


@FUZZ
@given(flags=st.lists(st.tuples(st.sampled_from(["--priority", "--max-retries", "--delay",
                                                  "--timeout", "--run-at", "--id", "--json"]),
                                flag_values), max_size=4))
def test_fuzzed_enqueue_flags(cli, flags):
    argv = ["enqueue", "echo fuzz"]
    for name, value in flags:
        argv += [name] if name == "--json" else [name, value]
    before = cli.jobs()
    code, out, err = cli(*argv)
    expect_codes(code, err)
    assert cli.jobs() - before == (1 if code == 0 else 0)
    if code == 0 and "--json" in argv:
        json.loads(out)


@FUZZ
@given(key=st.sampled_from(["max-retries", "backoff_base", "backoff-max", "job-timeout",
                            "worker-count", "output-limit", "kill-grace", "worker-lease",
                            "nope", "", "MAX_RETRIES"]),
       value=flag_values | st.sampled_from(["nan", "inf", "-1", "1e400", "0x10", "1_000",
                                            "9" * 30, " 3 ", "2.5", ""]))
def test_fuzzed_config_values_keep_the_old_value_on_error(cli, key, value):
    before = db_query(cli.db, "SELECT key, value FROM config ORDER BY key")
    code, out, err = cli("config", "set", key, value)
    assert code in (0, 2), (code, err)
    if code != 0:
        assert db_query(cli.db, "SELECT key, value FROM config ORDER BY key") == before
    else:
        # whatever was stored must read back and be usable by a worker's settings
        name = out.split("=", 1)[0]
        assert cli("config", "get", name)[0] == 0


words = st.sampled_from(["list", "show", "logs", "status", "dlq", "retry", "config", "get",
                         "set", "enqueue", "--json", "--state", "--limit", "-n", "--attempt",
                         "--all", "--file", "--help", "worker", "list", "stop", "--timeout",
                         "pending", "bogus", "-1", "0", "3", "{}", "[]", "--", "-x"])


@FUZZ
@given(argv=st.lists(words | st.text(max_size=8), max_size=5))
def test_fuzzed_argument_vectors(cli, argv):
    assume(argv[:2] != ["worker", "start"])
    before = cli.jobs()
    code, _, err = cli(*argv)
    assert code in (0, 1, 2), (argv, code, err)
    if argv[:1] != ["enqueue"]:
        assert cli.jobs() == before


@pytest.mark.parametrize("argv", [
    [b"enqueue", b"\xff\xfe"],
    [b"enqueue", b'{"command": "echo \xc3\x28"}'],
    [b"show", b"\x80id"],
    [b"list", b"--state", b"\xffpending"],
    [b"config", b"set", b"max-retries", b"\xf0\x28\x8c\x28"],
    [b"--db", b"/nonexistent-\xff/dir/q.db", b"status"],
])
def test_non_utf8_argv_through_a_real_process(tmp_path, argv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUEUECTL_")}
    env.update(QUEUECTL_DB=str(tmp_path / "q.db"), LC_ALL="C.UTF-8", NO_COLOR="1")
    cp = subprocess.run([QUEUECTL.encode(), *argv], capture_output=True, env=env, timeout=60,
                        stdin=subprocess.DEVNULL)
    err = cp.stderr.decode(errors="replace")
    assert "Traceback" not in err
    assert cp.returncode in (0, 1, 2), err
    if cp.returncode:
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err


def test_the_fuzzer_reaches_the_happy_path(cli):
    """Guard against a fuzz suite that only ever exercises errors."""
    assert cli("enqueue", '{"command": "true", "priority": 5}')[0] == 0
    assert cli("config", "set", "max-retries", "2")[0] == 0
