"""Log in with email and password, log out, switch the language."""

import re
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from server.api.deps import StateDep, WriteDB
from server import logins
from server.web.deps import FORGED, FormDep, check_origin, client_address, optional_login
from server.web.errors import WebError
from server.web.i18n import COOKIE as LANGUAGE_COOKIE, LANGUAGES
from server.web.templating import render

router = APIRouter()

_LOGIN_CSRF_COOKIE = "sosqueue_login_csrf"
_MAX_FIELD = 1000
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")


def safe_next(target: str | None) -> str:
    """Only paths on this server: a login link must not send anyone elsewhere. Control characters
    are refused too: browsers drop tabs and line breaks from a URL, so "/<tab>/host" is "//host"."""
    if (target and target.startswith("/") and not target.startswith(("//", "/\\"))
            and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in target)):
        return target
    return "/"


def _secure(request: Request, state) -> bool:
    return state.settings.cookie_secure or request.url.scheme == "https"


def _login_page(request: Request, state, *, next_url: str, error: str | None = None, email: str = "",
                status: int = 200, expired: bool = False, error_values: dict | None = None) -> Response:
    token = _login_token(request)
    response = render(request, "login.html", status=status, next_url=next_url, error=error, email=email,
                      csrf_token=token, expired=expired, error_values=error_values or {})
    response.set_cookie(_LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request, state),
                        path="/login")
    return response


def _login_token(request: Request) -> str:
    """The token this browser's login forms already carry, else a new one.

    A fresh token per page would void the form in every other login tab of the browser (and
    a background request that was sent to the login page would void the one on screen).
    """
    current = request.cookies.get(_LOGIN_CSRF_COOKIE, "")
    return current if _TOKEN_SHAPE.fullmatch(current) else secrets.token_urlsafe(32)


@router.get("/login")
def login_form(request: Request, state: StateDep, next: str | None = None, expired: bool = False) -> Response:
    """The login page; signed-in users go straight on."""
    if optional_login(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, state, next_url=safe_next(next), expired=expired)


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    email: Annotated[str, Form(max_length=_MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=_MAX_FIELD)] = "",
    csrf_token: Annotated[str, Form(max_length=_MAX_FIELD)] = "",
    next: Annotated[str, Form(max_length=_MAX_FIELD)] = "/",
) -> Response:
    """Check the password; on success set the session cookie and go on to ``next``."""
    check_origin(request)
    next_url = safe_next(next)
    if not logins.tokens_match(request.cookies.get(_LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(request, state, next_url=next_url, email=email, status=403, error=FORGED)
    try:
        token = logins.sign_in(
            state.db, request.app.state.login_throttle, email=email, password=password, address=client_address(request),
            lifetime=timedelta(hours=state.settings.session_hours),
        )
    except logins.Throttled as throttled:
        return _login_page(request, state, next_url=next_url, email=email, status=429,
                           error="Too many login attempts. Try again in {seconds} s.",
                           error_values={"seconds": throttled.seconds})
    if not token:
        return _login_page(request, state, next_url=next_url, email=email, status=401,
                           error="The email or the password is wrong.")
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(logins.COOKIE, token, httponly=True, samesite="lax", secure=_secure(request, state),
                        max_age=int(state.settings.session_hours * 3600), path="/")
    response.delete_cookie(_LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, state: StateDep, _form: FormDep, session: WriteDB) -> Response:
    """End this login (its open session views close too) and go back to the login page."""
    cookie = request.cookies.get(logins.COOKIE, "")
    logins.end(session, cookie)
    request.app.state.connect_hub.sign_out(login_cookie=cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(logins.COOKIE, path="/")
    return response


@router.get("/language/{language}")
def switch_language(language: str, next: str | None = None) -> Response:
    """Remember the chosen language in a cookie and go back."""
    if language not in LANGUAGES:
        raise WebError(404, "This page does not exist.")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
