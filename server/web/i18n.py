"""English and German for the dashboard: the ``dashboard`` gettext catalogue.

The English text is the message id; ``server/web/locale/de/LC_MESSAGES/dashboard.po`` (compiled
to ``.mo`` by ``scripts/i18n compile``) translates it. The language comes from the
``sosqueue_lang`` cookie (the switch in the page header), else from the browser's
Accept-Language, else English.

Pages also name a few labels by key, ``_("status:" ~ item.status.value)``: :data:`LABELS` gives
each key its English text and a gettext context (the same word may be a status here and an
event there).
"""

from collections.abc import Callable
from pathlib import Path

from fastapi import Request

from sosqueue import i18n
from sosqueue.i18n import N_, NP_

LANGUAGES = {"en": "English", "de": "Deutsch"}
COOKIE = "sosqueue_lang"
DOMAIN = "dashboard"
LOCALE_DIR = Path(__file__).with_name("locale")

Translate = Callable[..., str]

#: Label keys the pages build from values (``status:new``) → (context, English text).
LABELS: dict[str, tuple[str, str]] = {
    "status:open": NP_("status", "Open"),
    "status:new": NP_("status", "New"),
    "status:pending": NP_("status", "Pending"),
    "status:in_progress": NP_("status", "In progress"),
    "status:closed": NP_("status", "Closed"),
    "status:expired": NP_("status", "Expired"),
    "status:all": NP_("status", "All"),
    "event:created": NP_("event", "Created"),
    "event:assigned": NP_("event", "Assigned"),
    "event:claimed": NP_("event", "Taken over by code"),
    "event:joined": NP_("event", "Joined"),
    "event:left": NP_("event", "Left"),
    "event:status_changed": NP_("event", "Status changed"),
    "event:closed": NP_("event", "Closed"),
    "event:expired": NP_("event", "Expired"),
    "event:screen_shared": NP_("event", "Screen shared"),
    "event:screen_denied": NP_("event", "Screen sharing denied"),
    "event:screen_stopped": NP_("event", "Screen sharing stopped"),
    "event:control_granted": NP_("event", "Control allowed"),
    "event:control_denied": NP_("event", "Control denied"),
    "event:control_stopped": NP_("event", "Control ended"),
    # control_stopped as the history reads it when the customer took control back, or the expert gave it back.
    "event:control_taken_back": NP_("event", "Control taken back"),
    "event:control_given_back": NP_("event", "Control given back"),
    "event:note_added": NP_("event", "Note from the customer"),
    "event:escalated": NP_("event", "Escalated"),
    "event:updated": NP_("event", "Changed"),
    "actor:system": NP_("actor", "System"),
    "actor:customer": NP_("actor", "Customer"),
    "actor:module": NP_("actor", "Support module"),
    "actor:expert": NP_("actor", "Expert"),
    "source:manual": NP_("source", "Filed by hand"),
    "source:module": NP_("source", "Support module"),
    "source:sos": NP_("source", "SOS button"),
}

#: The error pages' titles: the HTTP reason phrases (``http.HTTPStatus(…).phrase``).
HTTP_PHRASES = (
    N_("Bad Request"), N_("Unauthorized"), N_("Forbidden"), N_("Not Found"), N_("Method Not Allowed"),
    N_("Conflict"), N_("Content Too Large"), N_("Unprocessable Content"), N_("Unprocessable Entity"),
    N_("Too Many Requests"), N_("Internal Server Error"),
)


def negotiate(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        language = part.split(";")[0].strip().lower()[:2]
        if language in LANGUAGES:
            return language
    return "en"


def translation(language: str):
    """The dashboard's gettext catalogue for ``language`` (English needs none)."""
    return i18n.translation(DOMAIN, language, LOCALE_DIR)


def translator(language: str) -> Translate:
    """``_("Text {name}", name=…)``: the translation, formatted with the keyword arguments."""
    catalogue = translation(language)

    def translate(message: str, /, **values) -> str:
        label = LABELS.get(message)
        if label is not None:
            translated = catalogue.pgettext(*label)
        elif message:
            translated = catalogue.gettext(message)
        else:
            translated = message  # gettext("") would be the catalogue's header
        return translated.format(**values) if values else translated

    return translate
