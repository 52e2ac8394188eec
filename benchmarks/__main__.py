"""`python -m benchmarks [--quick] [--only P1,P3,...]`: run the suite, print the table, write JSON."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from . import (
    cli_bench,
    engine_bench,
    flow,
    latency,
    scale,
    slots,
    spawn,
    streaming,
    tui_cpu,
    wait_bench,
    web,
)
from .common import Row, say

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

# Cheap, quiet measures first; the 10^6-row store last.
SUITE = {
    **cli_bench.BENCHMARKS,      # P4, P5
    **engine_bench.BENCHMARKS,   # P3, P3-pg
    **spawn.BENCHMARKS,          # P1, P1-peer, P1b, P2, P1-pg
    **latency.BENCHMARKS,        # P6, P6-pg
    **slots.BENCHMARKS,          # P10, P10-rss
    **flow.BENCHMARKS,           # P3-flow, P1-flow, P9, P9-scale
    **wait_bench.BENCHMARKS,     # P8, P8-pg
    **streaming.BENCHMARKS,      # P1-stream, P3-stream, P8-follow, P8-follow-pg
    **scale.BENCHMARKS,          # P7
    **web.BENCHMARKS,            # P11 (the dashboard)
    **tui_cpu.BENCHMARKS,        # P12 (the terminal UI)
}
# The -pg rows (PostgreSQL store, QUEUECTL_BENCH_PG_DSN) follow their SQLite counterparts.
ORDER = ["P1", "P1-peer", "P1b", "P1-pg", "P1-stream", "P2", "P3", "P3-pg", "P3-stream", "P4",
         "P5", "P6", "P6-pg", "P8", "P8-pg", "P8-follow", "P8-follow-pg", "P10", "P3-flow",
         "P1-flow", "P9", "P7", "P9-scale", "P11", "P12"]


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "loadavg_at_start": os.getloadavg()}


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    head = ["id", "workload", "metric", "queuectl", "reference", "ratio", "goal", "met"]
    body = []
    for r in rows:
        met = "skipped" if r.skipped else {True: "yes", False: "NO", None: "-"}[r.met]
        body.append([r.id, r.workload, r.metric, fmt(r.queuectl), fmt(r.reference),
                     "-" if r.ratio is None else f"{r.ratio:.2f}", r.goal_text(), met])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    notes = [f"  {r.id}: {r.skipped}" for r in rows if r.skipped]
    return "\n".join(line.rstrip() for line in lines) + ("\n" + "\n".join(notes) if notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller N (under a minute)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(ORDER)}")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()] or ORDER
    unknown = [b for b in chosen if b not in SUITE]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)} (valid: {', '.join(ORDER)})")

    started = time.perf_counter()
    rows: list[Row] = []
    for bench_id in chosen:
        t0 = time.perf_counter()
        try:
            produced = SUITE[bench_id](args.quick)
        except Exception as exc:  # noqa: BLE001 - a broken benchmark must not hide the others
            traceback.print_exc(file=sys.stderr)
            produced = Row(bench_id, "(failed)", "-", None, None, 0,
                           skipped=f"failed: {type(exc).__name__}: {exc}")
        for row in produced if isinstance(produced, list) else [produced]:
            rows.append(row)
            ratio = "" if row.ratio is None else f"  ratio {row.ratio:.2f}"
            status = row.skipped or ("goal met" if row.met else "goal NOT met")
            say(f"  {row.id}: {fmt(row.queuectl)} {row.metric} vs {fmt(row.reference)}"
                f"{ratio}  [{status}]  ({time.perf_counter() - t0:.1f}s)")

    duration = time.perf_counter() - started
    document = {
        "benchmarks": [r.to_json() for r in rows],
        "quick": args.quick,
        "duration_s": round(duration, 1),
        "machine": machine(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    m = document["machine"]
    print(f"\nqueuectl benchmarks{' (quick)' if args.quick else ''}: {m['nproc']} cores, "
          f"{m['cpu']}, Python {m['python']}, {duration:.0f}s\n")
    print(table(rows))
    met = [r for r in rows if r.met]
    judged = [r for r in rows if r.met is not None]
    print(f"\n{len(met)}/{len(judged)} goals met; results in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
