"""The worker's child watcher: asyncio's pidfd watcher, which never loses a child.

asyncio (3.11) forks the shell *before* it asks the watcher to watch it. When pidfd_open then
fails (out of descriptors: EMFILE, ENFILE), asyncio's PidfdChildWatcher raises and the shell --
already running the job -- is never reaped, and the spawn looks failed although the job runs.
This watcher falls back to polling that one child with waitpid(WNOHANG) instead: the job runs
and ends as usual, and its attempt is reported like any other.
"""

import asyncio
import os

POLL_S = 0.05  # how often a child without a pidfd is polled (only after a pidfd could not open)


class ResilientPidfdWatcher(asyncio.PidfdChildWatcher):
    def add_child_handler(self, pid, callback, *args):
        if pid in self._callbacks:
            return super().add_child_handler(pid, callback, *args)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return self._poll(pid, callback, args)
        try:
            self._loop._add_reader(pidfd, self._do_wait, pid)
        except OSError:  # epoll refused it (e.g. max_user_watches): poll instead
            os.close(pidfd)
            return self._poll(pid, callback, args)
        self._callbacks[pid] = pidfd, callback, args

    def _poll(self, pid, callback, args) -> None:
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (Popen.poll on close): status unknown
            callback(pid, 255, *args)
            return
        if reaped == 0:
            self._loop.call_later(POLL_S, self._poll, pid, callback, args)
            return
        callback(pid, os.waitstatus_to_exitcode(status), *args)
