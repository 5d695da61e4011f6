"""The agent speaks English and German: gettext catalogues kept as ``.po`` files.

The catalogues live in ``agent/locale/<language>/LC_MESSAGES/sosqueue.po`` and are read at
runtime, so there is no compile step in the build. Code marks texts with ``_()``::

    from agent.i18n import _
    label = _("Request help")

:func:`use_language` picks the catalogue once at start, from the module's brand language or,
when that is ``auto``, from the operating system's locale.
"""

import ast
import gettext
import locale
import logging
import os
from pathlib import Path

log = logging.getLogger("sosqueue.agent")

DOMAIN = "sosqueue"
LANGUAGES = ("en", "de")
DEFAULT = "en"
LOCALE_DIR = Path(__file__).with_name("locale")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = DEFAULT


def _(message: str) -> str:
    """The message in the language in use (the message itself when there is no translation)."""
    return _translation.gettext(message)


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
    """The catalogue for ``language``; English (the source texts) needs none."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT or not path.is_file():
        return gettext.NullTranslations()
    try:
        return PoTranslations(path)
    except (OSError, ValueError, SyntaxError) as error:
        log.warning("cannot read the %s texts (%s); using English", language, error)
        return gettext.NullTranslations()


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


class PoTranslations(gettext.NullTranslations):
    """A gettext catalogue read straight from a ``.po`` file (singular messages, no contexts)."""

    def __init__(self, path: Path):
        super().__init__()
        self._catalog = parse_po(path.read_text(encoding="utf-8"))

    def gettext(self, message: str) -> str:
        return self._catalog.get(message) or message

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def parse_po(text: str) -> dict[str, str]:
    """``msgid`` → ``msgstr`` of a ``.po`` file; fuzzy and untranslated entries are left out."""
    catalog: dict[str, str] = {}
    entry: dict[str, list[str]] = {}
    key = None
    fuzzy = False

    def finish():
        if "msgid" in entry and "msgstr" in entry and not fuzzy:
            source, target = "".join(entry["msgid"]), "".join(entry["msgstr"])
            if source and target:
                catalog[source] = target

    for line in text.splitlines() + [""]:
        line = line.strip()
        if not line:
            finish()
            entry, key, fuzzy = {}, None, False
        elif line.startswith("#,"):
            fuzzy = "fuzzy" in line
        elif line.startswith("#"):
            continue
        elif line.startswith('"') and key:
            entry[key].append(_unquote(line))
        else:
            key, _space, value = line.partition(" ")
            entry[key] = [_unquote(value)]
    return catalog


def _unquote(value: str) -> str:
    value = value.strip()
    if not (value.startswith('"') and value.endswith('"')):
        raise ValueError(f"not a quoted .po string: {value[:40]}")
    return ast.literal_eval(value)
