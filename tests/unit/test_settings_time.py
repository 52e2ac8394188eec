"""settings.py (config keys) and timeutil.py (ISO-8601 at the edges)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.errors import InvalidConfigError, UsageError
from queuectl.settings import KEYS, Settings, canonical_key, format_value, parse_value
from queuectl.timeutil import format_ms, parse_iso, seconds_between

# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max-retries", "max_retries", " MAX_RETRIES "])
def test_both_key_spellings(name):
    assert canonical_key(name) == "max-retries"


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(InvalidConfigError, match="worker-count") as info:
        canonical_key("colour")
    assert info.value.exit_code == 2


def test_contract_defaults():
    s = Settings()
    assert (s.max_retries, s.backoff_base, s.backoff_max, s.job_timeout, s.worker_count,
            s.output_limit) == (3, 2.0, 3600.0, 0.0, 1, 1_048_576)
    assert Settings.from_stored({}) == s


def test_every_key_has_a_settings_field():
    s = Settings()
    for key, spec in KEYS.items():
        assert s.value(key) == spec.default
        assert s.value(key.replace("-", "_")) == spec.default


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [("max-retries", "0", 0), ("max-retries", " 7 ", 7), ("backoff-base", "1", 1.0),
     ("backoff-base", "1.5", 1.5), ("backoff-max", "0", 0.0), ("job-timeout", "0", 0.0),
     ("worker-count", "1", 1), ("output-limit", "0", 0), ("worker-lease", "2", 2.0),
     ("backoff-max", "315360000", 315360000.0), ("worker-count", "10000", 10000)],
)
def test_good_values_and_minimums(key, text, value):
    parsed = parse_value(key, text)
    assert parsed == value and type(parsed) is KEYS[key].kind


@pytest.mark.parametrize(
    ("key", "text"),
    [("max-retries", "-1"), ("max-retries", "1.5"), ("max-retries", "three"), ("max-retries", ""),
     ("backoff-base", "0.99"), ("backoff-base", "nan"), ("backoff-base", "inf"),
     ("backoff-max", "-1"), ("backoff-max", "1e300"), ("job-timeout", "-0.1"),
     ("worker-count", "0"), ("output-limit", "-1"), ("output-limit", str(2**63)),
     ("worker-lease", "0"), ("worker-lease", "0.000001"), ("worker-lease", "1.9"),
     ("backoff-max", "1e17"), ("job-timeout", "1e12"), ("worker-count", "10001"),
     ("kill-grace", "1e9"), ("max-retries", str(2**31))],
)
def test_bad_values(key, text):
    with pytest.raises(InvalidConfigError) as info:
        parse_value(key, text)
    assert key in str(info.value) and info.value.exit_code == 2


def test_overlay_takes_only_the_named_keys_that_are_stored_and_valid():
    base = Settings(backoff_base=5.0, backoff_max=1.0, kill_grace=0.2)
    stored = {"backoff-base": "3", "backoff-max": "nonsense", "kill-grace": "9"}
    assert base.overlay(stored, ["backoff-base", "backoff-max"]) == base._replace(backoff_base=3.0)
    assert base.overlay({}, KEYS) == base


def test_stored_values_override_defaults():
    s = Settings.from_stored({"max-retries": "5", "backoff-base": "3"})
    assert s.max_retries == 5 and s.backoff_base == 3.0 and s.worker_count == 1


def test_hand_edited_bad_stored_value_falls_back_to_default():
    assert Settings.from_stored({"worker-count": "zero"}).worker_count == 1


@pytest.mark.parametrize(("value", "text"), [(2.0, "2"), (2.5, "2.5"), (3, "3"), (0.0, "0"),
                                             (1_048_576, "1048576")])
def test_format_value(value, text):
    assert format_value(value) == text


def test_heartbeat_is_a_fifth_of_the_lease():
    assert Settings(worker_lease=10).heartbeat_interval == 2.0


# -- timeutil ------------------------------------------------------------------------------


def test_format_has_milliseconds_and_z():
    assert format_ms(1_795_343_400_123) == "2026-11-22T10:30:00.123Z"
    assert format_ms(0) == "1970-01-01T00:00:00.000Z"
    assert format_ms(5) == "1970-01-01T00:00:00.005Z"


def test_format_none():
    assert format_ms(None) is None


@pytest.mark.parametrize(
    "text",
    ["2026-11-22T10:30:00.123Z", "2026-11-22T10:30:00.123+00:00", "2026-11-22T12:30:00.123+02:00",
     "2026-11-22T05:30:00.123-05:00", " 2026-11-22T10:30:00.123Z "],
)
def test_parse_offsets(text):
    assert parse_iso(text) == 1_795_343_400_123


@pytest.mark.parametrize("text", ["2026-11-22T10:30:00", "2026-11-22", "yesterday", ""])
def test_parse_rejects_naive_and_garbage(text):
    with pytest.raises(UsageError):
        parse_iso(text)


@given(st.integers(0, 253_402_300_799_999))
def test_format_then_parse_round_trips(ms):
    assert parse_iso(format_ms(ms)) == ms


def test_seconds_between():
    assert seconds_between(1000, 3500) == 2.5


def test_years_before_1000_are_padded_to_four_digits():
    assert format_ms(parse_iso("0999-05-06T07:08:09.5Z")) == "0999-05-06T07:08:09.500Z"
    assert format_ms(parse_iso("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize(("key", "text", "seconds"), [
    ("backoff-max", "2h", 7200), ("job-timeout", "1h30m", 5400), ("kill-grace", "500ms", 0.5),
    ("worker-lease", "1m", 60), ("backoff-max", "90", 90),
])
def test_time_valued_keys_take_durations(key, text, seconds):
    assert parse_value(key, text) == seconds


@pytest.mark.parametrize(("key", "text", "fragment"), [
    ("backoff-max", "forever", "duration"), ("worker-lease", "1s", "between"),
    ("max-retries", "5m", "whole number"), ("backoff-base", "2s", "a number"),
    ("job-timeout", "-1m", "duration"),
])
def test_durations_only_where_seconds_are_asked_for(key, text, fragment):
    with pytest.raises(InvalidConfigError, match=fragment):
        parse_value(key, text)


def test_validate_setting_gives_the_canonical_key_and_stored_text_or_the_set_error():
    from queuectl.settings import validate_setting

    assert validate_setting("MAX_RETRIES", " 5 ") == ("max-retries", "5")
    assert validate_setting("backoff-base", "2.0") == ("backoff-base", "2")
    with pytest.raises(InvalidConfigError, match="worker-count must be between 1 and 10000"):
        validate_setting("worker-count", "0")
    with pytest.raises(InvalidConfigError, match="unknown config key 'nope'"):
        validate_setting("nope", "1")
