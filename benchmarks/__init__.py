"""queuectl's benchmark suite: `make bench` (= python -m benchmarks) and `make bench-quick`.

Each benchmark measures queuectl and its reference in the same run and returns Row(s); the suite
prints a table and writes benchmarks/results/latest.json. See benchmarks/README.md.
"""
