"""Errors in TeamViewer's shape: ``{"error", "error_description", "error_code"}`` with the usual statuses.

``error`` is a stable name, ``error_code`` its number, ``error_description`` says what went wrong
for people. Clients of TeamViewer's Web API branch on the status and on ``error``.
"""

from dataclasses import dataclass
from http import HTTPStatus

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Kind:
    status: int
    error: str
    code: int


INVALID_REQUEST = Kind(400, "invalid_request", 1)
INVALID_TOKEN = Kind(401, "invalid_token", 2)
INTERNAL_ERROR = Kind(500, "internal_error", 3)
RATE_LIMIT_REACHED = Kind(429, "rate_limit_reached", 4)
NOT_FOUND = Kind(404, "not_found", 8)
INVALID_PERMISSION = Kind(403, "invalid_permission", 10)
#: The one kind of each status the API answers with.
BY_STATUS = {kind.status: kind for kind in
             (INVALID_REQUEST, INVALID_TOKEN, INTERNAL_ERROR, RATE_LIMIT_REACHED, NOT_FOUND, INVALID_PERMISSION)}

#: What each status means when an operation says nothing more precise (for the OpenAPI document).
DESCRIPTIONS = {
    400: "a parameter is missing, of the wrong type, too long, or names nothing of the caller's company; "
         "or the session is closed and cannot change",
    401: "no token, or one that is unknown, revoked or expired",
    403: "this needs a user's API token",
    404: "no session with this code in the caller's company",
    429: "too many sessions created lately; try again after Retry-After seconds",
}


class TeamViewerError(BaseModel):
    """The body of every error answer under ``/tv/api/v1``."""

    error: str = Field(description="what went wrong, for programs: invalid_request, invalid_token, not_found …")
    error_description: str = Field(description="what went wrong and how to fix it, for people")
    error_code: int = Field(description="the number of `error`")


class TvError(Exception):
    """An error to answer with, of ``kind``."""

    def __init__(self, kind: Kind, description: str, *, headers: dict | None = None):
        super().__init__(description)
        self.kind, self.description, self.headers = kind, description, headers


def invalid(description: str) -> TvError:
    return TvError(INVALID_REQUEST, description)


class Answered(Exception):
    """A route of the compatibility API failed with ``error``: raised past the route's dependencies (so that
    its write transaction rolls back, and a refused call changes nothing), answered by :func:`install`'s handler."""

    def __init__(self, error: TvError):
        super().__init__(error.description)
        self.error = error


def install(app) -> None:
    """Answer :class:`Answered` in TeamViewer's shape."""
    app.add_exception_handler(Answered, lambda _request, raised: error_response(raised.error))


def for_status(status: int, description: str, headers: dict | None = None) -> TvError:
    """The error of ``status``; a status of no kind of its own counts as a bad request (4xx) or an internal error."""
    kind = BY_STATUS.get(status) or (INVALID_REQUEST if status < 500 else INTERNAL_ERROR)
    return TvError(kind, description or HTTPStatus(status).phrase, headers=headers)


def error_response(error: TvError) -> JSONResponse:
    body = TeamViewerError(error=error.kind.error, error_description=error.description, error_code=error.kind.code)
    return JSONResponse(body.model_dump(), status_code=error.kind.status, headers=error.headers, media_type=MEDIA_TYPE)
