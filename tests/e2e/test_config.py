"""`queuectl config get/set/list`: defaults, both spellings, persistence, validation."""

from .conftest import CONFIG_DEFAULTS as DEFAULTS


def test_defaults_via_get_list_and_json(q):
    for key in ("max-retries", "backoff-base", "backoff-max"):
        assert q.ok("config", "get", key).stdout.strip() == str(DEFAULTS[key]), key

    listed = q.json("config", "list", "--json")
    for key, value in DEFAULTS.items():
        assert listed[key] == value, key
        assert isinstance(listed[key], int | float) and not isinstance(listed[key], bool)

    lines = set(q.ok("config", "get").stdout.splitlines())
    for key, value in DEFAULTS.items():
        assert f"{key}={value}" in lines


def test_set_persists_with_either_spelling(q):
    q.config_set("max_retries", 5)
    assert q.ok("config", "get", "max-retries").stdout.strip() == "5"
    assert q.ok("config", "get", "max_retries").stdout.strip() == "5"
    q.config_set("backoff-base", "1.5")
    listed = q.json("config", "list", "--json")
    assert listed["max-retries"] == 5
    assert listed["backoff-base"] == 1.5


def test_bad_value_keeps_the_value_set_before(q):
    q.config_set("max-retries", 7)
    cp = q.run("config", "set", "max-retries", "-3")
    assert cp.returncode == 2 and cp.stderr.startswith("error: ")
    assert q.json("config", "list", "--json")["max-retries"] == 7

