"""Fit the worker's resource limits to its slots, before it claims anything.

Each running job holds FDS_PER_SLOT descriptors in the worker: the read ends of its stdout and
stderr pipes, and the pidfd that tells its exit. A stock Linux soft limit of 1024 descriptors
fits about 330 slots; the hard limit is usually far higher, and a process may raise its own
soft limit up to it. So the worker raises the soft limit to what its slots need (no further:
the jobs inherit it), and refuses to start when even the hard limit cannot fit them.
"""

import os
import resource

from .errors import UsageError

FDS_PER_SLOT = 3
# Descriptors in use for a moment or added after start-up: a spawn (the pipes' write ends,
# /dev/null, the exec-error pipe), /proc scans, the doorbell socket or LISTEN connection,
# PostgreSQL's pool growing to its maximum.
FDS_RESERVE = 64
PROCS_RESERVE = 64  # the user's other processes count against RLIMIT_NPROC too


def descriptors_needed(slots: int, open_now: int) -> int:
    return open_now + FDS_RESERVE + FDS_PER_SLOT * slots


def open_descriptors() -> int:
    """Descriptors this process has open (Linux: /proc/self/fd, less the listing's own)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1
    except OSError:
        return 32  # no /proc: a generous guess for stdio, the store and the event loop


def fit_open_files(slots: int) -> str | None:
    """Raise the soft RLIMIT_NOFILE to what `slots` need; a note for the log when it did.
    UsageError (exit 2) when the hard limit cannot fit them."""
    needed = descriptors_needed(slots, open_descriptors())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return None
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise UsageError(
            f"concurrency {slots} needs {needed} file descriptors but the hard limit is {hard} "
            f"(soft {soft}): raise it with `ulimit -n {needed}` (as root, or LimitNOFILE= for a "
            f"service), or lower --concurrency to at most {max_slots(hard, needed, slots)}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return f"raised the open-file limit from {soft} to {needed} for {slots} slots"


def max_slots(limit: int, needed: int, slots: int) -> int:
    """The most slots that fit `limit`, given that `slots` need `needed` descriptors."""
    fixed = needed - FDS_PER_SLOT * slots
    return max(0, (limit - fixed) // FDS_PER_SLOT)


def fit_processes(slots: int) -> str | None:
    """Raise the soft RLIMIT_NPROC toward what `slots` need (a shell each); a note for the log.
    Not a refusal when the hard limit is lower: the user's other processes count too, so the
    need is not knowable here, and a fork refused with EAGAIN is handed back uncharged."""
    if not hasattr(resource, "RLIMIT_NPROC") or os.geteuid() == 0:  # not enforced for root
        return None
    wanted = slots + PROCS_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if soft == resource.RLIM_INFINITY or wanted <= soft:
        return None
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (raised, hard))
    if raised < wanted:
        return (f"the process limit (ulimit -u) is {raised}, below {slots} slots + "
                f"{PROCS_RESERVE}: jobs may wait for a free process")
    return f"raised the process limit from {soft} to {raised} for {slots} slots"
