"""Periodic duties of a worker, each a small service with a `run_once(now)` a test can call."""
