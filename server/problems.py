"""Every error the API returns is ``application/problem+json`` (RFC 9457) with a human detail."""

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.creation import RateLimited
from server.lifecycle import IllegalTransition
from server.queue import Conflict, IdempotencyMismatch, NotFound
from server.updates import NoUpdate

log = logging.getLogger("sosqueue.api")

MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One invalid part of a request."""

    field: str = Field(description="where, as a dotted path: body.description, query.limit, header.idempotency-key")
    message: str = Field(description="what is wrong with it")


class ProblemDetails(BaseModel):
    """The body of every error answer: RFC 9457 problem details with a stable ``code``."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="always about:blank: the status and the code say what happened")
    title: str = Field(description="the status's phrase, such as Not Found")
    status: int = Field(ge=400, le=599, description="the answer's HTTP status")
    detail: str = Field(description="what went wrong and how to fix it, for people")
    code: str = Field(description="what went wrong, for programs: not_found, invalid_request, rate_limited …")
    errors: list[FieldProblem] = Field(
        default=None, json_schema_extra=lambda schema: schema.pop("default"),
        description="each invalid part of the request (422 invalid_request only)",
    )


class Problem(Exception):
    """An error to answer with; ``code`` is a stable machine-readable name."""

    def __init__(self, status: int, detail: str, *, code: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or default_code(status)
        self.headers = headers


def default_code(status: int) -> str:
    """The code of a problem that names none: the status's phrase, such as ``not_found``."""
    return HTTPStatus(status).phrase.lower().replace(" ", "_")


def problem_body(status: int, detail: str, *, code: str | None = None, errors: list[dict] | None = None) -> dict:
    """The body of an error answer, as :class:`ProblemDetails` describes it."""
    details = ProblemDetails(type="about:blank", title=HTTPStatus(status).phrase, status=status, detail=detail,
                             code=code or default_code(status), **({"errors": errors} if errors is not None else {}))
    return details.model_dump(exclude_none=True)


def problem_response(status: int, detail: str, *, code: str | None = None, headers: dict | None = None,
                     errors: list[dict] | None = None) -> JSONResponse:
    body = problem_body(status, detail, code=code, errors=errors)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    message = error.get("msg", "is invalid").removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
    errors = error.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem_response(400, "the request body is not valid JSON", code="malformed_json")
    details = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": _describe(e)} for e in errors]
    summary = "; ".join(d["message"] for d in details[:3])
    return problem_response(422, summary or "the request is invalid", code="invalid_request", errors=details)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    def _problem(_request: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.detail, code=error.code, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
        return problem_response(error.status_code, detail, headers=getattr(error, "headers", None))

    @app.exception_handler(NotFound)
    def _not_found(_request: Request, error: NotFound) -> JSONResponse:
        return problem_response(404, str(error), code="not_found")

    @app.exception_handler(NoUpdate)
    def _no_update(_request: Request, error: NoUpdate) -> JSONResponse:
        return problem_response(404, str(error), code=error.code)

    @app.exception_handler(IllegalTransition)
    def _illegal(_request: Request, error: IllegalTransition) -> JSONResponse:
        return problem_response(409, str(error), code=f"request_{error.status.value}")

    @app.exception_handler(Conflict)
    def _conflict(_request: Request, error: Conflict) -> JSONResponse:
        return problem_response(409, str(error), code="conflict")

    @app.exception_handler(RateLimited)
    def _rate_limited(_request: Request, error: RateLimited) -> JSONResponse:
        return problem_response(429, str(error), code="rate_limited", headers={"Retry-After": str(error.retry_after)})

    @app.exception_handler(IdempotencyMismatch)
    def _mismatch(_request: Request, error: IdempotencyMismatch) -> JSONResponse:
        return problem_response(422, str(error), code="idempotency_key_reused")

    app.add_exception_handler(RequestValidationError, _validation)

    @app.exception_handler(Exception)
    def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return problem_response(500, "the server hit an unexpected error; it has been logged")
