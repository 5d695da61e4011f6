"""Jinja2 pages with autoescaping, the signed-in user, the CSRF token and translations.

Translations use ``jinja2.ext.i18n`` with the dashboard's gettext catalogue, chosen per request
(:func:`server.web.i18n.negotiate`): pages call ``_("Text {name}", name=…)`` (formatted with
``str.format``, like the routes' messages), ``{% trans %}`` blocks work too.
"""

import json
from datetime import datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from sosqueue import codes
from sosqueue.events import EventType
from server.web.i18n import LANGUAGES, negotiate, translation, translator
from server.logins import Login
from server.web.vocabulary import NAME as VOCABULARY_NAME, vocabulary_json

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATIC_DIR = Path(__file__).with_name("static")

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_environment.install_null_translations()  # English where a page is rendered without a request's language
_environment.filters["code"] = codes.display
_environment.filters["isotime"] = lambda value: value.isoformat() if value else ""


def _short_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


_environment.filters["when"] = _short_time
# The vocabulary, for templates (EventType) and for the scripts (rendered as JSON in base.html).
_environment.globals["EventType"] = EventType
_environment.globals["vocabulary_name"] = VOCABULARY_NAME
_environment.globals["vocabulary_json"] = vocabulary_json()
# Diagnostics values as JSON text; autoescaping then makes it safe (|tojson would \u-escape it).
_environment.filters["json"] = lambda value: json.dumps(value, ensure_ascii=False, sort_keys=True)


def render(
    request: Request, template: str, *, login: Login | None = None, status: int = 200, headers: dict | None = None,
    **context,
) -> HTMLResponse:
    language = negotiate(request)
    catalogue = translation(language)
    translate = translator(language)
    page = _environment.get_template(template).render(
        request=request,
        login=login,
        lang=language,
        languages=LANGUAGES,
        _=translate,
        gettext=translate,
        ngettext=catalogue.ngettext,
        pgettext=catalogue.pgettext,
        npgettext=catalogue.npgettext,
        **context,
    )
    response = HTMLResponse(page, status_code=status, headers=headers)
    response.headers.update(PAGE_HEADERS)
    return response


# Scripts and styles only from this server: a stray injected tag could not run even if it
# got past escaping. Images may be data: URLs (the session view's frames, later).
_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
    "base-uri": "'none'",
    "object-src": "'none'",
}


def content_security_policy(**more: str) -> str:
    """The dashboard's policy, with ``more`` sources for some directives (``style_src="'nonce-…'"``;
    a directive it lacks is added)."""
    directives = dict(_POLICY)
    for name, sources in more.items():
        directive = name.replace("_", "-")
        directives[directive] = f"{directives[directive]} {sources}" if directive in directives else sources
    return "; ".join(f"{directive} {sources}" for directive, sources in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()
#: What every page of this server carries: the dashboard's and the API documentation's (server.api_docs).
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
