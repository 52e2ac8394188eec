"""Periodic duties of a worker, each a small service with a `run_once(now)` a test can call
(River's maintenance services): scheduler.py fires cron runs, cleaner.py applies retention."""
