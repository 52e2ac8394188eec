"""/metrics in the Prometheus text format (version 0.0.4): pure, from documents already read."""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..jobs import STATES, MinuteStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def render(*, counts: Mapping[str, int], queues: Mapping[str, Mapping[str, int]],
           workers: Sequence[Any], p95: float | None, minutes: Sequence[MinuteStats]) -> str:
    lines: list[str] = []
    family(lines, "queuectl_jobs", "gauge", "Jobs per state, and per queue and state.")
    lines += [sample("queuectl_jobs", {"state": s}, counts.get(s, 0)) for s in STATES]
    for queue, per_state in sorted(queues.items()):
        lines += [sample("queuectl_jobs", {"queue": queue, "state": s}, per_state.get(s, 0))
                  for s in STATES]
    family(lines, "queuectl_workers", "gauge", "Live workers.")
    lines.append(sample("queuectl_workers", {}, len(workers)))
    family(lines, "queuectl_worker_slots", "gauge", "Job slots of the live workers.")
    lines.append(sample("queuectl_worker_slots", {}, sum(w.concurrency for w in workers)))
    family(lines, "queuectl_jobs_running", "gauge", "Jobs the live workers are running.")
    lines.append(sample("queuectl_jobs_running", {}, sum(w.running for w in workers)))
    _attempts(lines, minutes)
    _durations(lines, p95, minutes)
    return "\n".join(lines) + "\n"


def _attempts(lines: list[str], minutes: Sequence[MinuteStats]) -> None:
    name = "queuectl_attempts_last_hour"
    family(lines, name, "gauge", "Attempts finished in the last hour, by outcome.")
    lines.append(sample(name, {"outcome": "completed"}, sum(m.completed for m in minutes)))
    lines.append(sample(name, {"outcome": "failed"}, sum(m.failed for m in minutes)))


def _durations(lines: list[str], p95: float | None, minutes: Sequence[MinuteStats]) -> None:
    name = "queuectl_job_duration_seconds"
    family(lines, name, "summary", "Duration of the attempts finished in the last hour.")
    lines.append(sample(name, {"quantile": "0.95"}, math.nan if p95 is None else p95))
    lines.append(sample(name + "_sum", {}, sum(m.duration_sum for m in minutes)))
    lines.append(sample(name + "_count", {}, sum(m.timed for m in minutes)))


def family(lines: list[str], name: str, kind: str, text: str) -> None:
    lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def sample(name: str, labels: Mapping[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value_text(value)}" if inner else f"{name} {value_text(value)}"


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def value_text(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
