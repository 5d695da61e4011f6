"""Every error the ``sosqueue`` command shows: one line, a fix, and a documented exit code."""

from enum import IntEnum


class ExitCode(IntEnum):
    """The ``sosqueue`` command's exit codes (the README lists them)."""

    OK = 0
    UNEXPECTED = 1  # a bug: the traceback is written to a log file
    USAGE = 2  # a wrong option or argument (click's own code)
    CONFIG = 3  # a bad setting: database URL, secret key, module config
    NOT_FOUND = 4  # a company, user, group or module that does not exist (or is another company's)
    CONFLICT = 5  # it exists already
    DATABASE = 6  # the database cannot be reached or is not a sosqueue database
    BRAND = 10  # a bad logo, colour, text or contrast in the module's brand
    BASE = 11  # the base agent is missing, damaged or already stamped
    OUTPUT = 12  # the output cannot be written
    DAMAGED_MODULE = 13  # a module's payload is cut short or was changed
    TOOL_MISSING = 14  # an external tool (PyInstaller, osslsigncode, wixl, dpkg-deb) is not installed
    TOOL_FAILED = 15  # an external tool ran and failed
    NETWORK = 16  # the queue server cannot be reached or refused the registration; a time-stamp authority gave no timestamp
    NOT_A_MODULE = 17  # the file carries no module configuration (the unbranded base, another program)
    CHANGED_MODULE = 18  # a module's configuration was changed after it was built
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


class BrandError(SosqueueError):
    exit_code = ExitCode.BRAND


class BaseError(SosqueueError):
    exit_code = ExitCode.BASE


class OutputError(SosqueueError):
    exit_code = ExitCode.OUTPUT


class DamagedModuleError(SosqueueError):
    exit_code = ExitCode.DAMAGED_MODULE


class NotAModuleError(SosqueueError):
    exit_code = ExitCode.NOT_A_MODULE


class ChangedModuleError(DamagedModuleError):
    exit_code = ExitCode.CHANGED_MODULE


class ToolMissing(SosqueueError):
    exit_code = ExitCode.TOOL_MISSING


class ToolFailed(SosqueueError):
    exit_code = ExitCode.TOOL_FAILED


class NetworkError(SosqueueError):
    exit_code = ExitCode.NETWORK
