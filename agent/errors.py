"""What can go wrong for the customer: each error has plain words and an exit code."""

from enum import IntEnum


class AgentExit(IntEnum):
    """The agent's exit codes (listed in the README for IT and scripts)."""

    OK = 0
    ERROR = 1  # unexpected; details in the log file
    USAGE = 2
    DAMAGED_MODULE = 3  # the stamped configuration is missing or damaged
    QUEUED = 4  # the request is saved and will be delivered when the queue is reachable
    REVOKED = 5  # the module was switched off on the server
    REJECTED = 6  # the queue refused what was sent
    NO_DISPLAY = 7
    STORAGE = 8  # the data directory cannot be written
    UPDATE_REFUSED = 9  # --update: the offered update cannot be trusted or does not start; nothing changed
    UPDATE_FAILED = 10  # --update: the update cannot be fetched or installed now (offline, disk); try later
    ABORTED = 130


class AgentError(Exception):
    """Base: ``str(error)`` is a sentence the customer can act on."""

    exit_code = AgentExit.ERROR

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DamagedModule(AgentError):
    """The file is cut short or its program is not the one it was built on: a damaged download."""

    exit_code = AgentExit.DAMAGED_MODULE

    def __init__(self, reason: str):
        super().__init__(f"This support module is damaged — download it again. ({reason})")


class UnbrandedAgent(AgentError):
    """The program carries no module configuration: the base agent the builder stamps, run by itself."""

    exit_code = AgentExit.DAMAGED_MODULE

    def __init__(self):
        super().__init__("This is the unbranded base agent, not a support module: it carries no configuration. "
                         "Run the support module your support team gave you.")


class TamperedModule(AgentError):
    """The configuration was changed after the module was built (its program is intact): downloading the
    same file again does not help."""

    exit_code = AgentExit.DAMAGED_MODULE

    def __init__(self, reason: str):
        super().__init__(f"This support module's configuration was changed after it was built — do not use it; "
                         f"ask your support team for a new one. ({reason})")


class Unreachable(AgentError):
    """The queue cannot be reached now (offline, DNS, refused, TLS, 5xx, 429): retry later."""

    exit_code = AgentExit.QUEUED


class ModuleRevoked(AgentError):
    exit_code = AgentExit.REVOKED

    def __init__(self):
        super().__init__("This support module has been switched off — ask your IT for a new one.")


class Rejected(AgentError):
    """The queue refused the request itself (4xx); retrying the same thing will not help."""

    exit_code = AgentExit.REJECTED

    def __init__(self, message: str, status: int = 400, code: str = ""):
        super().__init__(message)
        self.status = status
        self.code = code  # the problem's code (sosqueue.problem_codes), "" when it has none


class StorageFailure(AgentError):
    exit_code = AgentExit.STORAGE


class NoDisplay(AgentError):
    exit_code = AgentExit.NO_DISPLAY


class UpdateRefused(AgentError):
    """The server's update cannot be trusted (signature, checksum, size) or the new agent does not
    start: it is not installed, and the same offer is not tried again."""

    exit_code = AgentExit.UPDATE_REFUSED


class UpdateFailed(AgentError):
    """The update cannot be fetched or installed now (offline, no space, no rights); try later."""

    exit_code = AgentExit.UPDATE_FAILED


class MissingField(AgentError):
    """A field the module makes required was not given (``--no-gui``)."""

    exit_code = AgentExit.USAGE


class InvalidOption(AgentError):
    """An option's value that cannot be used (``--no-gui``); the message says how to fix it."""

    exit_code = AgentExit.USAGE
