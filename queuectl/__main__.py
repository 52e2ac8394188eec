"""`python -m queuectl`: what detached workers run (the interpreter of the caller, so a worker
started from a venv runs the same queuectl without looking for the executable on PATH)."""

from .cli.entry import main

main()
