"""Every error the ``sosqueue`` command shows: one line, a fix, and a documented exit code."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The ``sosqueue`` command's exit codes (the README lists them)."""

    OK = 0
    UNEXPECTED = 1  # a bug: the traceback is written to a log file
    USAGE = 2  # a wrong option or argument (click's own code)
    CONFIG = 3  # a bad setting: database URL, secret key, module config
    NOT_FOUND = 4  # a company, user, group or module that does not exist
    CONFLICT = 5  # it exists already
    DATABASE = 6  # the database cannot be reached or is not a sosqueue database
    ABORTED = 130  # Ctrl-C


class SosqueueError(Exception):
    """Base class: the message says what is wrong and how to fix it."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(SosqueueError):
    exit_code = ExitCode.CONFIG


class NotFoundError(SosqueueError):
    exit_code = ExitCode.NOT_FOUND


class ConflictError(SosqueueError):
    exit_code = ExitCode.CONFLICT


class DatabaseError(SosqueueError):
    exit_code = ExitCode.DATABASE
