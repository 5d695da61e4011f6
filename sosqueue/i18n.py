"""Translations for every part: compiled gettext catalogues read with the standard library.

Each part keeps its own domain and catalogue in its package's ``locale`` folder, as
``<part>/locale/<language>/LC_MESSAGES/<domain>.po`` (the source, edited by translators) and
``.mo`` (compiled by ``scripts/i18n compile``, shipped in the wheel and the frozen agent):

- the agent: domain ``agent`` in ``agent/locale``;
- the dashboard: domain ``dashboard`` in ``server/web/locale``;
- the installers (``.deb``, MSI): domain ``installers`` in ``sosqueue/locale``, read with
  :func:`installer_texts`.

English is the source language: the English text is the message id and needs no catalogue.
Only the standard library is used here, so the frozen agent needs no Babel; Babel extracts,
updates and compiles the catalogues (``scripts/i18n``, which also finds texts that code hands
on without marking them).
"""

from __future__ import annotations

import functools
import gettext
import logging
from pathlib import Path

log = logging.getLogger("sosqueue.i18n")

#: The languages the product speaks; the first is the source language.
LANGUAGES = ("en", "de")
DEFAULT = "en"

#: The installers' catalogue (``installers`` domain).
LOCALE_DIR = Path(__file__).with_name("locale")
INSTALLERS = "installers"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    """Marks ``message`` for extraction where it is translated later (tables, constants)."""
    return message


def NP_(context: str, message: str) -> tuple[str, str]:  # noqa: N802 - the gettext convention
    """Marks ``message`` with its ``context`` (``pgettext``) for extraction; translated later."""
    return context, message


@functools.cache
def translation(domain: str, language: str, locale_dir: str | Path) -> gettext.NullTranslations:
    """The compiled catalogue of ``domain`` for ``language`` from ``locale_dir``.

    English, a language without a catalogue and a damaged catalogue give the English texts
    (a :class:`gettext.NullTranslations`) rather than an error.
    """
    if language == DEFAULT:
        return gettext.NullTranslations()
    path = Path(locale_dir) / language / "LC_MESSAGES" / f"{domain}.mo"
    try:
        with path.open("rb") as file:
            return gettext.GNUTranslations(file)
    except FileNotFoundError:
        log.debug("no %s texts in %s", language, path)
    except (OSError, ValueError, UnicodeDecodeError) as error:  # gettext raises OSError for a bad magic number
        log.warning("cannot read the %s texts %s (%s); using English", language, path, error)
    return gettext.NullTranslations()


def in_every_language(message: str, domain: str, locale_dir: str | Path) -> dict[str, str]:
    """``message`` in every language: ``{"": English, "de": German}``, the shape of a
    ``.desktop`` file's ``Comment`` and ``Comment[de]`` keys."""
    return {("" if language == DEFAULT else language): translation(domain, language, locale_dir).gettext(message)
            for language in LANGUAGES}


def installer_texts(message: str) -> dict[str, str]:
    """An installer's text in every language (``{"": English, "de": German}``), from the
    ``installers`` catalogue; ``message`` is the English text, for example
    ``installer_texts("Ask for help now")``."""
    return in_every_language(message, INSTALLERS, LOCALE_DIR)
