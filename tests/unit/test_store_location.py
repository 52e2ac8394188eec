"""Store locations: which backend a --db value names, and how it is shown to users."""

from pathlib import Path

import pytest

from queuectl.errors import UsageError
from queuectl.store import display, sqlite_path


def test_paths_and_sqlite_urls_name_a_file():
    assert sqlite_path("sqlite:///tmp/q.db") == Path("/tmp/q.db")
    assert sqlite_path("rel/q.db") == Path("rel/q.db").absolute()
    assert sqlite_path("postgresql://u@h/db") is None
    with pytest.raises(UsageError, match="sqlite:///absolute"):
        sqlite_path("sqlite://relative.db")


@pytest.mark.parametrize(("value", "shown"), [
    ("postgresql://u:s3cret@h:5432/db?schema=x", "postgresql://u:***@h:5432/db?schema=x"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("/var/lib/q.db", "/var/lib/q.db"),
    ("sqlite:///var/lib/q.db", "sqlite:///var/lib/q.db"),
])
def test_a_password_is_never_shown(value, shown):
    assert display(value) == shown
