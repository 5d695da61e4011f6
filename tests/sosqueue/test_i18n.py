"""One translation mechanism: gettext catalogues per part, read with the standard library, kept
complete and current by scripts/i18n (Babel)."""

import gettext
import importlib.machinery
import importlib.util
import io
import shutil
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from sosqueue import i18n

ROOT = Path(__file__).resolve().parents[2]


def load_script():
    """scripts/i18n as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("sosqueue_i18n_script", str(ROOT / "scripts" / "i18n"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


script = load_script()


@pytest.mark.parametrize("domain", sorted(script.DOMAINS))
def test_every_text_has_a_german_translation_and_the_catalogue_is_current(domain):
    """Fails when a text of the sources is missing from the German .po, has an empty or fuzzy
    translation there, or the shipped .mo is not the compiled .po (scripts/i18n check)."""
    assert script.problems(domain) == []


@pytest.mark.parametrize("domain", sorted(script.DOMAINS))
def test_the_extract_finds_the_texts_of_each_part(domain):
    """The extraction reads each part's files (a broken mapping would find nothing and pass)."""
    found = {message.id for message in script.extract(domain) if message.id}
    expected = {"agent": {"Request help", "Keep waiting", "Ask for help now", "Reconnecting to the support server…"},
                "window": {"Waiting for a supporter…", "Operating system", "Your session code", "(optional)"},
                "dashboard": {"Log out", "Not Found", "Fill this in.", "This page does not exist.",
                              "There is no service request {code} in your queue.", "Always {email}",
                              "Session with {name}"},
                "installers": {"Ask for help now", "Ask your support team for help"}}[domain]
    assert expected <= found


@pytest.mark.parametrize("domain", sorted(script.DOMAINS))
def test_german_translations_keep_the_placeholders(domain):
    import string

    def fields(text):
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}

    with script.po_path(domain, "de").open("rb") as file:
        broken = [message.id for message in read_po(file) if message.id and fields(message.id) != fields(message.string)]
    assert broken == []


@pytest.fixture
def copied_catalogue(tmp_path, monkeypatch):
    """The installers' German .po and .mo copied where the check looks for them."""
    po, mo = tmp_path / "installers.po", tmp_path / "installers.mo"
    shutil.copy(script.po_path("installers", "de"), po)
    shutil.copy(script.mo_path("installers", "de"), mo)
    monkeypatch.setattr(script, "po_path", lambda domain, language: po)
    monkeypatch.setattr(script, "mo_path", lambda domain, language: mo)
    return po, mo


def test_the_check_fails_on_a_missing_german_translation(copied_catalogue):
    po, mo = copied_catalogue
    assert script.problems("installers") == []
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Jetzt Hilfe anfordern"', 'msgstr ""'),
                  encoding="utf-8")
    assert "installers (de): 'Ask for help now' is untranslated" in script.problems("installers")


def test_the_check_fails_on_a_fuzzy_translation(copied_catalogue):
    po, mo = copied_catalogue
    po.write_text(po.read_text(encoding="utf-8").replace('msgid "Ask for help now"', '#, fuzzy\nmsgid "Ask for help now"'),
                  encoding="utf-8")
    assert "installers (de): 'Ask for help now' is fuzzy" in script.problems("installers")


def test_the_check_fails_when_a_text_of_the_sources_is_not_in_the_catalogue(copied_catalogue):
    po, mo = copied_catalogue
    text = po.read_text(encoding="utf-8")
    po.write_text(text[:text.index('msgid "Ask for help now"')], encoding="utf-8")
    assert any("'Ask for help now'" in problem and "is not in the catalogue" in problem
               for problem in script.problems("installers"))


def test_the_check_fails_on_a_stale_compiled_catalogue(copied_catalogue):
    po, mo = copied_catalogue
    po.write_text(po.read_text(encoding="utf-8").replace("Jetzt Hilfe anfordern", "Sofort Hilfe anfordern"),
                  encoding="utf-8")
    assert any("is not the compiled" in problem for problem in script.problems("installers"))


# --- the run-time side: the standard library only -------------------------------------------

def compile_into(folder: Path, domain: str, po_text: str) -> None:
    target = folder / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{domain}.mo").open("wb") as file:
        write_mo(file, read_po(io.BytesIO(po_text.encode())))


def test_a_domain_is_read_from_its_compiled_catalogue(tmp_path):
    compile_into(tmp_path, "demo", 'msgid ""\nmsgstr "Language: de\\n"\n\nmsgid "Hello"\nmsgstr "Hallo"\n\n'
                                   'msgctxt "status"\nmsgid "Open"\nmsgstr "Offen"\n')
    german = i18n.translation("demo", "de", tmp_path)
    assert isinstance(german, gettext.GNUTranslations)
    assert (german.gettext("Hello"), german.pgettext("status", "Open"), german.gettext("Other")) == (
        "Hallo", "Offen", "Other")
    assert i18n.in_every_language("Hello", "demo", tmp_path) == {"": "Hello", "de": "Hallo"}


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_english_a_language_without_catalogue_or_a_missing_file_give_english(tmp_path, language):
    assert i18n.translation("nothing", language, tmp_path).gettext("Hello") == "Hello"


def test_a_damaged_catalogue_gives_english(tmp_path):
    (tmp_path / "de" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "de" / "LC_MESSAGES" / "broken.mo").write_bytes(b"not a catalogue")
    assert i18n.translation("broken", "de", tmp_path).gettext("Hello") == "Hello"


def test_installer_texts_come_in_every_language():
    """The API the installers (.deb's desktop entries, MSI) call for their texts."""
    assert i18n.installer_texts("Ask for help now") == {"": "Ask for help now", "de": "Jetzt Hilfe anfordern"}
    assert i18n.installer_texts("Ask your support team for help") == {
        "": "Ask your support team for help", "de": "Hilfe beim Support-Team anfordern"}
    assert i18n.installer_texts("Not translated") == {"": "Not translated", "de": "Not translated"}


def test_markers_return_what_they_mark():
    assert i18n.N_("Text") == "Text"
    assert i18n.NP_("status", "Open") == ("status", "Open")


def test_every_part_ships_its_compiled_catalogue_in_the_wheel_and_the_agent_only_its_own():
    """pyproject's package data carries the .mo files; the frozen agent's spec only agent.mo."""
    import tomllib

    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "locale/*/LC_MESSAGES/*.mo" in package_data["agent"]
    assert "locale/*/LC_MESSAGES/*.mo" in package_data["sosqueue"]
    assert "web/locale/*/LC_MESSAGES/*.mo" in package_data["server"]
    spec = (ROOT / "build_scripts" / "sosqueue-agent.spec").read_text()
    assert '"agent.mo"' in spec and '"babel"' in spec
