"""Errors on dashboard pages are pages: one clear sentence and a way on, never a traceback.

The API keeps answering problem+json: each handler installed here wraps the API's handler and
only takes over for requests to the dashboard.
"""

import logging
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.creation import RateLimited
from server.lifecycle import IllegalTransition
from server.problems import Problem
from server.queue import Conflict, NotFound
from server.web.i18n import negotiate, translator
from server.web.templating import render

log = logging.getLogger("sosqueue.web")

_API_PREFIXES = ("/api/", "/healthz", "/readyz", "/openapi.json", "/docs", "/redoc")


class WebError(Exception):
    """An error page: ``message`` is English and is translated when shown."""

    def __init__(self, status: int, message: str, /, **values):
        super().__init__(message)
        self.status = status
        self.message = message
        self.values = values


class LoginRequired(Exception):
    """Not signed in (or the login expired): go to the login page and come back."""

    def __init__(self, *, expired: bool):
        self.expired = expired


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_API_PREFIXES)


def error_page(request: Request, status: int, message: str, /, **values) -> Response:
    from server.web.deps import optional_login  # the error page shows who is signed in

    translate = translator(negotiate(request))
    return render(request, "error.html", login=optional_login(request), status=status,
                  title=HTTPStatus(status).phrase, message=message,
                  values={name: translate(str(value)) for name, value in values.items()})


def login_redirect(request: Request, *, expired: bool) -> Response:
    if request.headers.get("x-requested-with") == "fetch" or "text/event-stream" in request.headers.get("accept", ""):
        return Response(status_code=401)  # the page's script reloads, which lands on the login page
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    query = f"next={quote(target, safe='')}" + ("&expired=1" if expired else "")
    return RedirectResponse(f"/login?{query}", status_code=303)


def install(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    def _web_error(request: Request, error: WebError) -> Response:
        return error_page(request, error.status, error.message, **error.values)

    @app.exception_handler(LoginRequired)
    def _login_required(request: Request, error: LoginRequired) -> Response:
        return login_redirect(request, expired=error.expired)

    _take_over(app, NotFound, lambda e: (404, "There is no such service request, user, group or module here."))
    _take_over(app, IllegalTransition, lambda e: (409, "This request is {status} and can no longer be changed.",
                                                  {"status": f"status:{e.status.value}"}))
    _take_over(app, Conflict, lambda e: (409, str(e)))
    _take_over(app, RateLimited, lambda e: (429, TOO_MANY_CREATED, {"seconds": e.retry_after}))
    _take_over(app, Problem, lambda e: (e.status, e.detail))
    _take_over(app, StarletteHTTPException, _http_message)
    _take_over(app, RequestValidationError, lambda e: (400, BAD_VALUE))
    _take_over(app, Exception, _unexpected)
    # A value the database cannot store (a NUL character, a number out of range) that no check
    # caught: a bad address or form for pages; the API validates its input before it gets here.
    _take_over(app, DataError, lambda e: (400, BAD_VALUE), api_handler=app.exception_handlers[Exception])


BAD_VALUE = "This address or form has a value that is not allowed. Go back and use the page's buttons."
TOO_MANY_CREATED = "Too many requests were created lately; try again in {seconds} s."


def _http_message(error: StarletteHTTPException):
    if error.status_code == 404:
        return 404, "This page does not exist."
    if error.status_code == 405:
        return 405, "This page cannot be used that way; go back and use its buttons."
    return error.status_code, HTTPStatus(error.status_code).phrase


def _unexpected(error: Exception):
    log.exception("unexpected error on a dashboard page", exc_info=error)
    return 500, "Something went wrong on the server; it has been logged. Go back and try again."


def _take_over(app: FastAPI, exception: type[Exception], describe, *, api_handler=None) -> None:
    api_handler = api_handler or app.exception_handlers[exception]

    def handler(request: Request, error: Exception) -> Response:
        if not is_page(request):
            return api_handler(request, error)
        status, message, *values = describe(error)
        return error_page(request, status, message, **(values[0] if values else {}))

    app.add_exception_handler(exception, handler)
