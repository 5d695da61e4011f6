"""The agent's languages: chosen from the module or the OS locale, read from the compiled catalogue."""

import ast
import io
from pathlib import Path

import pytest

from agent import i18n
from agent.i18n import _, system_language, use_language
from sosqueue import window_layout

AGENT = Path(i18n.__file__).parent
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    use_language("en")


@pytest.fixture
def no_locale(monkeypatch):
    """An environment that names no language, and a C locale."""
    for name in LOCALE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(i18n.locale, "getlocale", lambda *args: (None, None))
    return monkeypatch


@pytest.mark.parametrize(("variable", "value", "language"), [
    ("LANG", "de_DE.UTF-8", "de"),
    ("LANG", "de_AT", "de"),
    ("LC_ALL", "de_CH.utf8", "de"),
    ("LANGUAGE", "de:en", "de"),
    ("LANG", "en_GB.UTF-8", "en"),
    ("LANG", "fr_FR.UTF-8", "en"),
    ("LANG", "C.UTF-8", "en"),
    ("LANG", "POSIX", "en"),
])
def test_the_os_locale_picks_german_or_english(no_locale, variable, value, language):
    """German locales give German; every other language gives English."""
    no_locale.setenv(variable, value)
    assert system_language() == language


def test_lc_all_wins_over_lang(no_locale):
    """The POSIX order: LC_ALL before LANG."""
    no_locale.setenv("LANG", "en_US.UTF-8")
    no_locale.setenv("LC_ALL", "de_DE.UTF-8")
    assert system_language() == "de"


def test_windows_locale_names_are_understood(no_locale):
    """Windows' locale.getlocale() says 'German_Germany' rather than 'de_DE'."""
    no_locale.setattr(i18n.locale, "getlocale", lambda *args: ("German_Germany", "1252"))
    assert system_language() == "de"


def test_without_any_locale_english_is_used(no_locale):
    """Nothing set anywhere: English."""
    assert system_language() == "en"


def test_the_modules_language_wins_over_the_os(no_locale):
    """A module built for German speaks German on an English system, and the other way round."""
    no_locale.setenv("LANG", "en_US.UTF-8")
    assert use_language("de") == "de"
    assert _("Request help") == "Hilfe anfordern"
    no_locale.setenv("LANG", "de_DE.UTF-8")
    assert use_language("en") == "en"
    assert _("Request help") == "Request help"


def test_auto_follows_the_os_locale(no_locale):
    """'auto' asks the operating system."""
    no_locale.setenv("LANG", "de_DE.UTF-8")
    assert use_language("auto") == "de"
    assert _("Waiting for a supporter…") == "Warten auf einen Supporter …"


def test_unknown_messages_stay_as_they_are():
    """A text without translation shows in English rather than disappearing."""
    use_language("de")
    assert _("A sentence nobody translated") == "A sentence nobody translated"


def test_po_entries_are_compiled_joined_and_decoded_without_fuzzy_or_empty_ones(tmp_path, monkeypatch):
    """Multi-line strings are joined, escapes decoded; fuzzy or untranslated entries are left out."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    source = io.BytesIO('''
msgid ""
msgstr "Language: de\\n"

msgid "Hello"
msgstr "Hallo"

msgid ""
"Two "
"lines"
msgstr "Zwei\\n"
"Zeilen \\"quoted\\""

#, fuzzy
msgid "Guess"
msgstr "Vermutung"

msgid "Missing"
msgstr ""
'''.encode())
    with (folder / "agent.mo").open("wb") as mo:
        write_mo(mo, read_po(source))
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    use_language("de")
    assert [_(text) for text in ("Hello", "Two lines", "Guess", "Missing")] == [
        "Hallo", 'Zwei\nZeilen "quoted"', "Guess", "Missing"]


def test_a_damaged_catalogue_falls_back_to_english(tmp_path, monkeypatch):
    """A broken .mo file means English texts, not a crash."""
    folder = tmp_path / "de" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "agent.mo").write_bytes(b'msgid "Keep waiting"\nmsgstr Warten\n')
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    use_language("de")
    assert _("Keep waiting") == "Keep waiting"


def test_a_missing_catalogue_means_english(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert use_language("de") == "de"
    assert _("Keep waiting") == "Keep waiting"


def test_the_windows_texts_come_from_the_shared_window_catalogue():
    """Texts of the help window's layout (sosqueue.window_layout) are German through the agent's _()."""
    use_language("de")
    assert _("Your session code") == "Ihr Sitzungscode"
    assert "Your session code" not in i18n.translation("de")._catalog  # one home: the window catalogue


def test_the_desktop_entries_comments_come_in_every_language():
    """The .desktop files carry Comment= and Comment[de]= whatever language the agent speaks."""
    from agent.platforms import _linux

    use_language("en")
    assert i18n.in_every_language(_linux._SOS_COMMENT) == {"": "Ask for help now", "de": "Jetzt Hilfe anfordern"}
    assert i18n.in_every_language(_linux._MENU_COMMENT) == {
        "": "Ask your support team for help", "de": "Hilfe beim Support-Team anfordern"}


def german_catalogue() -> dict[str, str]:
    """English → German as the shipped agent.mo has it, with the window.mo it falls back to."""
    catalogues = (window_layout.translation("de")._catalog, i18n.translation("de")._catalog)
    return {english: german for catalogue in catalogues for english, german in catalogue.items() if english}


def _marked_messages() -> set[str]:
    """Every literal passed to _() in the agent's code, plus texts translated from tables."""
    messages = set()
    for path in AGENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                messages.add(node.args[0].value)
    from agent.ui import NO_DISPLAY_MESSAGE, STATUS_TEXTS
    from agent.ui.dialogs import DIAGNOSTIC_LABELS

    return messages | set(STATUS_TEXTS.values()) | set(DIAGNOSTIC_LABELS.values()) | {NO_DISPLAY_MESSAGE}


def test_every_text_of_the_agent_has_a_german_translation():
    """No English sentence slips into the German window."""
    missing = sorted(_marked_messages() - set(german_catalogue()))
    assert missing == []


def test_german_translations_keep_their_placeholders():
    """'{code}' in English is '{code}' in German, or format() would fail."""
    import string

    for source, target in german_catalogue().items():
        fields = {name for _, name, _, _ in string.Formatter().parse(source) if name}
        assert fields == {name for _, name, _, _ in string.Formatter().parse(target) if name}, source
