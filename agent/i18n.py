"""The agent speaks English and German: the ``agent`` gettext catalogue.

The German texts live in ``agent/locale/de/LC_MESSAGES/agent.po``, and the help window's own in the
shared core's ``window`` catalogue (:mod:`sosqueue.window_layout`, which the builder's preview reads
too); the agent's catalogue falls back to it. The agent reads the compiled
``agent.mo`` beside it with the standard library (:mod:`sosqueue.i18n`), so the frozen agent
needs no Babel. ``scripts/i18n update`` adds new texts to the ``.po``, ``scripts/i18n compile``
writes the ``.mo``. Code marks texts with ``_()``, or with ``N_()`` where they are translated
later::

    from agent.i18n import _
    label = _("Request help")

:func:`use_language` picks the catalogue once at start, from the module's brand language or,
when that is ``auto``, from the operating system's locale.
"""

import copy
import gettext
import locale
import logging
import os
from pathlib import Path

from sosqueue import i18n, window_layout
from sosqueue.i18n import N_

log = logging.getLogger("sosqueue.agent")

DOMAIN = "agent"
LANGUAGES = ("en", "de")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).with_name("locale")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = DEFAULT


def _(message: str) -> str:
    """The message in the language in use (the message itself when there is no translation)."""
    return _translation.gettext(message) if message else message  # gettext("") is the header


def current_language() -> str:
    return _language


def use_language(setting: str = "auto") -> str:
    """Switch the agent's texts to ``setting`` (``en``, ``de`` or ``auto``); returns the language used.

    :param setting: the module's ``brand.language``; ``auto`` asks the operating system.
    """
    global _translation, _language
    language = setting if setting in LANGUAGES else system_language()
    _translation = translation(language)
    _language = language
    log.debug("texts in %s", language)
    return language


def system_language() -> str:
    """The OS user's language if the agent speaks it, otherwise English."""
    for candidate in _locale_candidates():
        language = _language_of(candidate)
        if language:
            return language
    return DEFAULT


def translation(language: str) -> gettext.NullTranslations:
    """The catalogue for ``language``, falling back to the window's; English (the source texts),
    a missing or a damaged catalogue give the English texts."""
    own = copy.copy(i18n.translation(DOMAIN, language, LOCALE_DIR))  # the shared one keeps no fallback
    own.add_fallback(window_layout.translation(language))
    return own


def in_every_language(message: str) -> dict[str, str]:
    """``message`` in every language the agent speaks: ``{"": English, "de": German}``
    (a ``.desktop`` file's ``Comment`` and ``Comment[de]``)."""
    return i18n.in_every_language(message, DOMAIN, LOCALE_DIR)


def _locale_candidates():
    # The POSIX order of precedence; LANGUAGE may hold a colon-separated list.
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        yield from (part for part in value.split(":") if part)
    try:
        yield locale.getlocale(locale.LC_MESSAGES if hasattr(locale, "LC_MESSAGES") else locale.LC_CTYPE)[0] or ""
        yield locale.getlocale()[0] or ""
    except ValueError:
        pass


def _language_of(name: str) -> str | None:
    """``de_DE.UTF-8``, ``de-AT`` and Windows' ``German_Germany`` are German; ``C``/``POSIX`` say nothing."""
    name = name.strip().lower()
    if not name or name in ("c", "posix") or name.startswith("c."):
        return None
    if name.startswith("german") or name.startswith("deutsch"):
        return "de"
    code = name.replace("-", "_").split("_")[0].split(".")[0]
    return code if code in LANGUAGES else DEFAULT


__all__ = ["N_", "_", "current_language", "in_every_language", "system_language", "translation", "use_language"]
