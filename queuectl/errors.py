"""One exception base for everything queuectl reports to a user.

Each class carries the exit code of the CLI contract; the docstring is the default message.
"""


class QueuectlError(Exception):
    """queuectl failed"""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class UsageError(QueuectlError):
    """invalid usage"""

    exit_code = 2


class InvalidJobError(UsageError):
    """invalid job"""


class InvalidConfigError(UsageError):
    """invalid configuration"""


class JobNotFoundError(QueuectlError):
    """job not found"""


class DuplicateJobError(QueuectlError):
    """a job with this id already exists"""


class WrongStateError(QueuectlError):
    """the job is not in a state that allows this"""


class StoreError(QueuectlError):
    """the store is unreachable or unusable"""


class ScheduleExistsError(QueuectlError):
    """a schedule with this name already exists"""


class ScheduleNotFoundError(QueuectlError):
    """no schedule with this name"""
