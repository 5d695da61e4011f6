"""English and German for the dashboard. English text is the key; ``GERMAN`` translates it.

The language comes from the ``sosqueue_lang`` cookie (the switch in the page header), else
from the browser's Accept-Language, else English.
"""

from collections.abc import Callable

from fastapi import Request

from server.web.locale_de import GERMAN
from server.web.locale_en import ENGLISH

LANGUAGES = {"en": "English", "de": "Deutsch"}
COOKIE = "sosqueue_lang"

Translate = Callable[..., str]


def negotiate(request: Request) -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        language = part.split(";")[0].strip().lower()[:2]
        if language in LANGUAGES:
            return language
    return "en"


def translator(language: str) -> Translate:
    """``_("Text {name}", name=…)``: the translation, formatted with the keyword arguments."""
    catalog = GERMAN if language == "de" else ENGLISH

    def translate(message: str, /, **values) -> str:
        translated = catalog.get(message, message)
        return translated.format(**values) if values else translated

    return translate
