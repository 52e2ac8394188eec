"""Job documents as users write them -> (where, document) pairs: a JOB argument, a --file of JSON,
a JSON array or JSON Lines, --each lines, or the TUI's form. spec.py then validates each one.

Split from spec.py: reading text is one concern, the exit-2 rules of a job's fields another."""

import json
import math
from collections.abc import Mapping
from typing import Any

from .errors import InvalidJobError


def looks_like_json(text: str) -> bool:
    """The contract: a JOB that starts with { or [ is JSON; anything else, even ' {...}' (a
    shell group command), is a plain shell command."""
    return text[:1] in ("{", "[")


def documents_from_arg(text: str) -> list[tuple[str, Any]]:
    """The positional JOB: a JSON object or array, or else a plain shell command."""
    if not looks_like_json(text):
        return [("", {"command": text})]
    value = _loads(text, "")
    if isinstance(value, list):
        return [(f"index {i}", item) for i, item in enumerate(value)]
    return [("", value)]


def documents_from_file(text: str) -> list[tuple[str, Any]]:
    """--file content: one JSON object, a JSON array of objects, or JSON Lines."""
    if not text.strip():
        raise InvalidJobError("no jobs in input")
    if text.lstrip().startswith("["):
        value = _loads(text, "")
        if not isinstance(value, list):
            raise InvalidJobError("expected a JSON array of jobs")
        return [(f"index {i}", item) for i, item in enumerate(value)]
    try:
        return [("", json.loads(text, parse_constant=_reject_constant))]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InvalidJobError(f"bad JSON at line {exc.lineno}: {exc.msg}") from None
    except ValueError as exc:
        raise InvalidJobError(f"bad JSON: {exc}") from None
    return _json_lines(text)


def documents_from_each(template: str, text: str) -> list[tuple[str, Any]]:
    """--each TEMPLATE: one job per non-empty line, `{}` -> the line shell-quoted, `{#}` -> its
    number from 1 (empty lines not counted)."""
    import shlex

    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise InvalidJobError("--each: no lines in input")
    if _is_json_job(numbered[0][1]):
        raise InvalidJobError("--each takes lines of text, but the input is JSON jobs: "
                              "drop --each to enqueue them")
    return [(f"line {n}", {"command": template.replace("{#}", str(number))
                           .replace("{}", shlex.quote(line))})
            for number, (n, line) in enumerate(numbered, 1)]


def _is_json_job(line: str) -> bool:
    if not looks_like_json(line.lstrip()):
        return False
    try:
        return isinstance(json.loads(line), dict | list)
    except ValueError:
        return False


def _json_lines(text: str) -> list[tuple[str, Any]]:
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    try:  # fast path: one parse for the whole batch
        values = json.loads("[" + ",".join(line for _, line in numbered) + "]",
                            parse_constant=_reject_constant)
        if len(values) == len(numbered):
            return [(f"line {n}", v) for (n, _), v in zip(numbered, values, strict=True)]
    except ValueError:
        pass
    return [(f"line {n}", _loads(line, f"line {n}")) for n, line in numbered]


def _loads(text: str, where: str) -> Any:
    prefix = f"{where}: " if where else ""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidJobError(f"{prefix}bad JSON: {exc.msg} (column {exc.colno})") from None
    except ValueError as exc:  # NaN or Infinity: in an array, name the entry that holds it
        raise InvalidJobError(f"{prefix}{_entry_holding_constant(text)}bad JSON: {exc}") from None


def _entry_holding_constant(text: str) -> str:
    value = json.loads(text)  # the constants parse as floats here, only to locate them
    if isinstance(value, list):
        for index, item in enumerate(value):
            if _holds_non_finite(item):
                return f"index {index}: "
    return ""


def _holds_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(_holds_non_finite(v) for v in value)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid JSON number")


def document_from_form(fields: Mapping[str, str]) -> dict[str, Any]:
    """A job document from text fields (the TUI's enqueue form), for build_jobs to validate
    exactly as it validates `enqueue` JSON: blank fields are absent, `max_retries` and
    `priority` are whole numbers, `delay` and `timeout` durations (`90`, `5m`, `1h30m`)."""
    doc: dict[str, Any] = {}
    for key, text in fields.items():
        if not text.strip() and key != "command":  # a blank command gets its own message
            continue
        doc[key] = _form_value(key, text.strip()) if key in FORM_NUMBERS else text
    return doc


FORM_NUMBERS = frozenset({"max_retries", "priority", "delay", "timeout"})


def _form_value(key: str, text: str) -> int | float:
    from .durations import parse_duration

    try:
        if key in ("delay", "timeout"):
            return parse_duration(text)
        if not text.isascii():  # int() also takes other scripts' digits; JSON does not
            raise ValueError(text)
        return int(text)
    except ValueError as exc:
        if key in ("delay", "timeout"):
            raise InvalidJobError(f"{key}: {exc}") from None
        raise InvalidJobError(f"{key} must be a whole number, got {text!r}") from None
