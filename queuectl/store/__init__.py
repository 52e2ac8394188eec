"""open_store(url) picks the backend from the URL; backends are imported only when used."""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError

if TYPE_CHECKING:  # the protocol costs import time that one-shot commands need not pay
    from .base import Store


def default_path() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data_home) / "queuectl" / "queue.db"


def resolve(value: str | None) -> str:
    """--db (even empty: then an error), else QUEUECTL_DB if set and not empty, else the
    default path."""
    if value is not None:
        return value
    return os.environ.get("QUEUECTL_DB") or str(default_path())


def display(value: str) -> str:
    """A store location as shown to users: a URL's password masked."""
    if "://" not in value:
        return value
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if password is None:
        return value
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(value: str) -> Path | None:
    """The file behind a plain path or sqlite:///abs/path URL; None for other schemes."""
    if value.startswith("sqlite://"):
        rest = value[len("sqlite://"):]
        if not rest.startswith("/") or rest == "/":
            raise UsageError(f"bad SQLite URL {value!r}: use sqlite:///absolute/path.db")
        return Path(rest)
    if "://" in value:
        return None
    if not value.strip():
        raise UsageError("the store path is empty")
    return Path(value).expanduser().absolute()


async def open_store(value: str) -> "Store":
    path = sqlite_path(value)
    if path is not None:
        from .sqlite import SqliteStore

        return await SqliteStore.open(path)
    scheme = value.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        from .postgres import open_postgres  # raises the install hint when asyncpg is missing

        return await open_postgres(value)
    raise UsageError(f"unknown store URL scheme {scheme!r} (use a path, sqlite:///path or postgresql://...)")
