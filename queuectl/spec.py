"""User job documents and flags -> NewJob. Every rule whose violation is exit 2 lives here."""

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidJobError, UsageError
from .jobs import NewJob
from .timeutil import parse_iso

FIELDS = ("id", "command", "max_retries", "priority", "run_at", "delay", "timeout",
          "queue", "batch", "cwd", "env", "unique_key", "after")
TIMEOUT_ALIASES = ("timeout", "timeout_sec", "timeout_seconds")
PLAIN_FIELDS = frozenset(FIELDS)  # documents with only these keys need no renaming
# The Part 2 fields (CLI.md "More job fields"): checked once per enqueue call when they come
# from flags or defaults, so a 100,000-job file pays nothing per job for them.
CALL_FIELDS = ("queue", "batch", "cwd", "env", "unique_key", "after")
INT32 = 2**31
MAX_SECONDS = 10 * 365 * 86400  # ten years: far beyond any sane delay, far below overflow
MAX_ID_LENGTH = 128


def build_jobs(
    documents: Iterable[tuple[str, Any]], overrides: Mapping[str, Any], *, now: int
) -> list[NewJob]:
    """Every job of one enqueue call: the call's batch (named or generated) and the caller's
    working directory unless a flag or the document says otherwise."""
    flags = {k: v for k, v in overrides.items() if v is not None and v != []}  # typer: every flag
    ids = IdSource(now)
    common = call_fields(flags, ids)
    tail = tuple(common[k] for k in CALL_FIELDS)
    per_job = any(k not in CALL_FIELDS for k in flags)  # --priority and the like: no fast path
    jobs, seen = [], set()
    for where, doc in documents:
        try:
            job = None if per_job else _plain_job(doc, ids, tail)
            if job is None:
                job = build_job(doc, flags, now=now, ids=ids, common=common)
        except UsageError as exc:
            raise InvalidJobError(f"{where}: {exc}" if where else str(exc)) from None
        if job.id in seen:
            raise InvalidJobError(f"{where}: id {job.id!r} appears twice in the input")
        seen.add(job.id)
        jobs.append(job)
    if not jobs:
        raise InvalidJobError("no jobs in input")
    return jobs


def _plain_job(doc: Any, ids: "IdSource", tail: tuple) -> NewJob | None:
    """The bulk form `{"command": "..."}` with nothing else, checked inline and built
    positionally (a third of P4's time went to the general path). None: take that path, which
    also words any error."""
    if type(doc) is not dict or len(doc) != 1:
        return None
    command = doc.get("command")
    if type(command) is not str or "\0" in command or not command.strip():
        return None
    if not command.isascii() and not _encodable(command):
        return None
    return NewJob(ids.next(), command, None, 0, None, None, *tail)


def build_job(doc: Any, flags: Mapping[str, Any], *, now: int,
              ids: "IdSource | None" = None, common: dict[str, Any] | None = None) -> NewJob:
    """`flags` override the document's fields (None = flag not given); `common` holds the
    call's checked Part 2 values (call_fields), computed here when not given."""
    ids = ids or IdSource(now)
    if common is None:
        common = call_fields({k: v for k, v in flags.items() if v is not None}, ids)
    fields = _merge(_normalise(doc), {k: v for k, v in flags.items() if k not in CALL_FIELDS})
    if "run_at" in fields and "delay" in fields:
        raise InvalidJobError("give run_at or delay, not both")
    run_at = None
    if "run_at" in fields:
        run_at = parse_iso(_string(fields, "run_at"))
    elif "delay" in fields:
        run_at = now + round(_seconds(fields, "delay", allow_zero=True) * 1000)
    return NewJob(
        id=_job_id(fields, ids),
        command=_command(fields),
        max_retries=_int(fields, "max_retries", lo=0) if "max_retries" in fields else None,
        priority=_int(fields, "priority", lo=-INT32) if "priority" in fields else 0,
        run_at=run_at,
        timeout=_seconds(fields, "timeout", allow_zero=False) if "timeout" in fields else None,
        **_part2(fields, flags, common),
    )


def call_fields(flags: Mapping[str, Any], ids: "IdSource") -> dict[str, Any]:
    """The Part 2 values every job of the call gets unless its document says otherwise:
    flags checked once, a generated batch id, the enqueuing process's working directory."""
    from .jobs import DEFAULT_QUEUE

    given = {k: flags[k] for k in CALL_FIELDS if k in flags}
    if "env" in given and not isinstance(given["env"], Mapping):
        given["env"] = env_from_flags(given["env"])
    if "after" in given:
        given["after"] = list(given["after"])
    checked = {k: CHECKS[k](given, k) for k in given}
    if "batch" not in checked:
        checked["batch"] = ids.next()
    if "cwd" not in checked:
        checked["cwd"] = _working_directory()
    return {"queue": DEFAULT_QUEUE, "env": None, "unique_key": None, "after": ()} | checked


def _part2(fields: dict[str, Any], flags: Mapping[str, Any], common: dict[str, Any]) -> dict:
    """The job's Part 2 values: flags win over the document, which wins over the defaults;
    `env` and `after` combine (the document's, then the flags')."""
    if not fields.keys() & CALL_FIELDS_SET:
        return common  # the common case: nothing per job to check
    values = dict(common)
    for key in CALL_FIELDS:
        if key not in fields or (key in flags and key not in ("env", "after")):
            continue
        own = CHECKS[key](fields, key)
        if key == "env" and own:
            values["env"] = {**own, **(common["env"] if "env" in flags else {})} or None
        elif key == "after" and own:
            values["after"] = _unique(own + (common["after"] if "after" in flags else ()))
        elif key not in ("env", "after"):
            values[key] = own
    return values


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-")
MAX_QUEUE_LENGTH, MAX_BATCH_LENGTH, MAX_UNIQUE_KEY_LENGTH = 64, 128, 256


def check_name_flag(flag: str, value: str | None, longest: int) -> None:
    """A --queue / --batch filter as `cancel` and the TUI's filters take it (exit 2)."""
    if value is not None and not (0 < len(value) <= longest and NAME_CHARS.issuperset(value)):
        raise UsageError(f"{flag} must be 1 to {longest} of the characters A-Z a-z 0-9 _ . : -, "
                         f"got {value!r}")


def _name(fields: dict[str, Any], key: str, longest: int) -> str:
    name = _string(fields, key)
    if not 0 < len(name) <= longest or not NAME_CHARS.issuperset(name):
        raise InvalidJobError(f"{key} must be 1 to {longest} of the characters A-Z a-z 0-9 "
                              f"_ . : -, got {name!r}")
    return name


def queue_names(text: str, flag: str) -> list[str]:
    """NAME,NAME,... of `--queue` or the NAME arguments of `queue` commands (exit 2 if bad)."""
    names = [name.strip() for name in text.split(",")] if flag == "--queue" else [text]
    for name in names:
        if not 0 < len(name) <= MAX_QUEUE_LENGTH or not NAME_CHARS.issuperset(name):
            raise UsageError(f"bad queue name {name!r}: use 1 to {MAX_QUEUE_LENGTH} of the "
                             "characters A-Z a-z 0-9 _ . : -")
    return list(dict.fromkeys(names))


def _cwd(fields: dict[str, Any], key: str) -> str:
    path = _string(fields, key)
    if not path.startswith("/"):
        raise InvalidJobError(f"cwd must be an absolute path, got {path!r}")
    if "\0" in path or not _encodable(path):
        raise InvalidJobError("cwd must be UTF-8 text without NUL characters")
    return path


def _env(fields: dict[str, Any], key: str) -> dict[str, str] | None:
    env = fields[key]
    if not isinstance(env, dict):
        raise InvalidJobError(f"env must be an object of NAME: value strings, got {_type_name(env)}")
    for name, value in env.items():
        if not _env_name(name):
            raise InvalidJobError(f"env: bad variable name {name!r} (use [A-Za-z_][A-Za-z0-9_]*)")
        if not isinstance(value, str):
            raise InvalidJobError(f"env: {name} must be a string, got {_type_name(value)}")
        if "\0" in value or not _encodable(value):
            raise InvalidJobError(f"env: {name} must be UTF-8 text without NUL characters")
    return dict(env) or None


def _env_name(name: str) -> bool:
    return (bool(name) and name.isascii() and not name[0].isdigit()
            and name.replace("_", "a").isalnum())


def env_from_flags(pairs: Iterable[str]) -> dict[str, str]:
    """--env NAME=VALUE (repeatable; a later NAME wins)."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidJobError(f"--env takes NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def _unique_key(fields: dict[str, Any], key: str) -> str | None:
    if fields[key] is None:
        return None
    text = _string(fields, key)
    if not 0 < len(text) <= MAX_UNIQUE_KEY_LENGTH or not _encodable(text):
        raise InvalidJobError(f"unique_key must be 1 to {MAX_UNIQUE_KEY_LENGTH} characters")
    return text


def _after(fields: dict[str, Any], key: str) -> tuple[str, ...]:
    ids = fields[key]
    if not isinstance(ids, list):
        raise InvalidJobError(f"after must be an array of job ids, got {_type_name(ids)}")
    return _unique(tuple(_id_text(job_id, "after") for job_id in ids))


def _working_directory() -> str:
    try:
        return os.getcwd()
    except OSError as exc:
        raise UsageError(f"cannot read the current directory ({exc.strerror}): give --cwd") from None


CHECKS = {
    "queue": lambda fields, key: _name(fields, key, MAX_QUEUE_LENGTH),
    "batch": lambda fields, key: _name(fields, key, MAX_BATCH_LENGTH),
    "cwd": _cwd, "env": _env, "unique_key": _unique_key, "after": _after,
}
CALL_FIELDS_SET = frozenset(CALL_FIELDS)


def _normalise(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise InvalidJobError(f"a job must be a JSON object, got {_type_name(doc)}")
    if doc.keys() <= PLAIN_FIELDS:  # the common case: nothing to rename or reject
        return doc
    given = [k for k in TIMEOUT_ALIASES if k in doc]
    if len(given) > 1:
        raise InvalidJobError(f"give one of {', '.join(given)}, not several")
    unknown = [k for k in doc if k not in FIELDS and k not in TIMEOUT_ALIASES]
    if unknown:
        raise InvalidJobError(f"unknown field {unknown[0]!r} (valid: {', '.join(FIELDS)})")
    fields = {k: v for k, v in doc.items() if k not in TIMEOUT_ALIASES}
    fields["timeout"] = doc[given[0]]
    return fields


def _merge(fields: dict[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """Flags win; a --run-at flag replaces a document's delay and vice versa."""
    if not flags:
        return fields
    if flags.get("run_at") is not None and flags.get("delay") is not None:
        raise InvalidJobError("give --run-at or --delay, not both")
    merged = dict(fields)
    for key, value in flags.items():
        if value is None:
            continue
        if key in ("run_at", "delay"):
            merged.pop("delay" if key == "run_at" else "run_at", None)
        merged[key] = value
    return merged


def _command(fields: dict[str, Any]) -> str:
    if "command" not in fields:
        raise InvalidJobError("missing required field 'command'")
    command = _string(fields, "command")
    if not command.strip():
        raise InvalidJobError("command must not be blank")
    if "\0" in command:
        raise InvalidJobError("command must not contain a NUL character")
    if not command.isascii() and not _encodable(command):  # no store can keep it
        raise InvalidJobError("command must be valid UTF-8 text")
    return command


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _job_id(fields: dict[str, Any], ids: "IdSource") -> str:
    if "id" not in fields:
        return ids.next()
    return _id_text(fields["id"], "id")


def _id_text(job_id: Any, key: str) -> str:
    """A job id as `id` or an entry of `after` (key names it in the message)."""
    what = "id" if key == "id" else f"{key}: an id"
    if not isinstance(job_id, str):
        raise InvalidJobError(f"{what} must be a string, got {_type_name(job_id)}")
    if not job_id or len(job_id) > MAX_ID_LENGTH:
        raise InvalidJobError(f"{what} must be 1 to {MAX_ID_LENGTH} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in job_id):
        raise InvalidJobError(f"{what} must not contain spaces or control characters: {job_id!r}")
    return job_id


class IdSource:
    """Generated ids: `<ms since epoch, hex>-<40 random bits>`, sortable by creation time and
    unique without coordination. One batch shares its time and reads its randomness at once
    (a getrandom call per id was a tenth of a bulk enqueue). Sharing the time, the ids of one
    batch differ only in their 40 random bits: 100,000 of them collide with a chance of 1 in
    220, which failed a whole `enqueue --file` ("appears twice"); an id already handed out by
    this source is drawn again."""

    MAX_BATCH = 4096

    def __init__(self, now: int) -> None:
        self.prefix = f"{now:011x}-"
        self._batch = 1  # doubles per refill: one id costs one small read
        self._random: list[str] = []
        self._issued: set[str] = set()

    def next(self) -> str:
        while True:
            if not self._random:
                pool = os.urandom(5 * self._batch).hex()
                self._random = [pool[i : i + 10] for i in range(0, len(pool), 10)]
                self._batch = min(2 * self._batch, self.MAX_BATCH)
            suffix = self._random.pop()
            if suffix not in self._issued:
                self._issued.add(suffix)
                return self.prefix + suffix


def _string(fields: dict[str, Any], key: str) -> str:
    value = fields[key]
    if not isinstance(value, str):
        raise InvalidJobError(f"{key} must be a string, got {_type_name(value)}")
    return value


def _int(fields: dict[str, Any], key: str, *, lo: int) -> int:
    value = fields[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidJobError(f"{key} must be a whole number, got {_type_name(value)}")
    if not lo <= value < INT32:
        raise InvalidJobError(f"{key} must be between {lo} and {INT32 - 1}, got {value}")
    return value


def _seconds(fields: dict[str, Any], key: str, *, allow_zero: bool) -> float:
    value = fields[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidJobError(f"{key} must be a number of seconds, got {_type_name(value)}")
    if isinstance(value, int) and value > MAX_SECONDS:  # before any float conversion can overflow
        raise InvalidJobError(f"{key} must be at most {MAX_SECONDS} seconds, got {value}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        relation = ">= 0" if allow_zero else "> 0"
        raise InvalidJobError(f"{key} must be {relation}, got {value}")
    if value > MAX_SECONDS:
        raise InvalidJobError(f"{key} must be at most {MAX_SECONDS} seconds, got {value}")
    return float(value)


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "an array", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)
