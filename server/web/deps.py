"""Who is signed in, CSRF checks and form parsing for the dashboard's routes."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from server.api.deps import StateDep
from server.models import utcnow
from server import logins
from server.web.errors import LoginRequired, WebError
from server.web.i18n import Translate, negotiate, translator
from sosqueue.urls import same_origin

FORGED = "This form has expired or did not come from this dashboard. Go back, reload the page and try again."


def client_address(request: Request) -> str:
    """The address the limits on guessing (logins, customer pages) count a client by."""
    return request.client.host if request.client else "unknown"


def optional_login(request: Request) -> logins.Login | None:
    token = request.cookies.get(logins.COOKIE)
    if not token:
        return None
    cached = request.scope.get("sosqueue.login")
    if cached is not None:
        return cached
    with request.app.state.sosqueue.db.read() as session:
        login = logins.resolve(session, token, now=utcnow())
    request.scope["sosqueue.login"] = login
    return login


def require_login(request: Request) -> logins.Login:
    login = optional_login(request)
    if login is None:
        raise LoginRequired(expired=logins.COOKIE in request.cookies)
    return login


LoginDep = Annotated[logins.Login, Depends(require_login)]


def require_admin(login: LoginDep) -> logins.Login:
    if not login.is_admin:
        raise WebError(403, "Only an admin of your company can open this page.")
    return login


AdminLoginDep = Annotated[logins.Login, Depends(require_admin)]


def check_origin(request: Request) -> None:
    """Refuse a state change that a browser says came from another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and origin != "null":
        if not same_origin(origin, request.headers.get("host", "")):
            raise WebError(403, FORGED)


async def checked_form(request: Request, login: LoginDep) -> FormData:
    """The POSTed form, after its CSRF token (field or X-CSRF-Token header) proved it is ours."""
    check_origin(request)
    form = await request.form()
    given = form.get("csrf_token") or request.headers.get("x-csrf-token")
    if not logins.tokens_match(login.csrf_token, given if isinstance(given, str) else None):
        raise WebError(403, FORGED)
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def get_translate(request: Request) -> Translate:
    return translator(negotiate(request))


TranslateDep = Annotated[Translate, Depends(get_translate)]

__all__ = ["AdminLoginDep", "FormDep", "LoginDep", "StateDep", "TranslateDep", "optional_login"]
