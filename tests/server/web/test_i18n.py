"""Every text the dashboard shows exists in English and German (the ``dashboard`` catalogue)."""

import ast
import re
from pathlib import Path

import pytest
from starlette.requests import Request

from sosqueue.events import EventType
from sosqueue.statuses import Status
from server.web.i18n import LABELS, translation, translator
from server.web import templating
from server.web.templating import TEMPLATES_DIR

WEB = Path(TEMPLATES_DIR).parent
_TEMPLATE_TEXT = re.compile(r'_\("((?:[^"\\]|\\.)*)"')
_LABEL_PREFIXES = ("status:", "event:", "actor:", "source:")
#: English → German as the compiled catalogue has it, and the labels by key in either language.
GERMAN = {english: german for english, german in translation("de")._catalog.items()
          if english and "\x04" not in english}
ENGLISH = {key: translator("en")(key) for key in LABELS}
GERMAN_LABELS = {key: translator("de")(key) for key in LABELS}
# every event type, and the two ways control ends that the history tells apart
EVENT_TYPES = [event_type.value for event_type in EventType] + ["control_taken_back", "control_given_back"]


def template_texts() -> set[str]:
    texts = set()
    for template in WEB.joinpath("templates").rglob("*.html"):
        for raw in _TEMPLATE_TEXT.findall(template.read_text()):
            texts.add(raw.replace('\\"', '"'))
    return {text for text in texts if not text.endswith(_LABEL_PREFIXES)}


def python_messages() -> set[str]:
    """English messages the routes hand to pages: WebError texts and the error-page sentences."""
    messages = set()
    for source in WEB.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "WebError":
                messages.update(arg.value for arg in node.args[1:2] if isinstance(arg, ast.Constant))
            if isinstance(node, ast.keyword) and node.arg in ("error", "message"):
                if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    messages.add(node.value.value)
    return messages


def test_every_template_text_has_a_german_translation():
    missing = sorted(template_texts() - GERMAN.keys())
    assert missing == []


def test_every_message_of_the_routes_has_a_german_translation():
    missing = sorted(python_messages() - GERMAN.keys())
    assert missing == []


@pytest.mark.parametrize("catalog", [ENGLISH, GERMAN_LABELS], ids=["english", "german"])
def test_every_status_event_and_source_has_a_label(catalog):
    keys = [f"status:{s.value}" for s in Status] + ["status:open", "status:all"]
    keys += [f"event:{t}" for t in EVENT_TYPES] + [f"source:{s}" for s in ("manual", "module", "sos")]
    keys += [f"actor:{a}" for a in ("system", "customer", "module", "expert")]
    assert [key for key in keys if key not in catalog or catalog[key] == key] == []


def test_translations_keep_every_placeholder_of_the_english_text():
    placeholder = re.compile(r"\{(\w+)\}")
    broken = [english for english, german in GERMAN.items()
              if set(placeholder.findall(english)) != set(placeholder.findall(german))]
    assert broken == []


def test_german_is_chosen_and_formatted_with_values():
    assert translator("de")("Request {code} is filed.", code="s12-345-678") == "Die Anfrage s12-345-678 ist angelegt."
    assert translator("en")("Request {code} is filed.", code="s12-345-678") == "Request s12-345-678 is filed."
    assert translator("en")("status:in_progress") == "In progress"


def test_labels_read_as_before_in_both_languages():
    """The same word is a status in one place and an event in another: each keeps its German."""
    german = translator("de")
    assert [german(key) for key in ("status:new", "status:closed", "event:closed", "event:status_changed",
                                    "actor:module", "source:module", "source:sos")] == [
        "Neu", "Geschlossen", "Geschlossen", "Status geändert", "Supportmodul", "Supportmodul", "SOS-Knopf"]
    assert translator("en")("event:claimed") == "Taken over by code"
    assert german("status:unknown") == "status:unknown"  # an unknown key shows as it is, as before


def test_an_empty_text_stays_empty():
    """gettext("") would be the catalogue's header."""
    assert translator("de")("") == "" and translator("en")("") == ""


def test_error_page_titles_are_translated():
    assert translator("de")("Not Found") == "Nicht gefunden"
    assert translator("de")("Too Many Requests") == "Zu viele Anfragen"


def test_pages_render_trans_blocks_in_the_language_of_the_request():
    """jinja2.ext.i18n is on: {% trans %} and pgettext() read the same catalogue as _()."""
    template = templating._environment.from_string(
        "{% trans %}Log out{% endtrans %}|{{ _('Log out') }}|{{ pgettext('status', 'Closed') }}")
    for language, expected in (("de", "Abmelden|Abmelden|Geschlossen"), ("en", "Log out|Log out|Closed")):
        context = {"_": translator(language), "gettext": translator(language),
                   "pgettext": translation(language).pgettext}
        assert template.render(**context) == expected


@pytest.mark.parametrize(("language", "title", "message"), [
    ("de", "Nicht gefunden", "Diese Seite gibt es nicht."),
    ("en", "Not Found", "This page does not exist."),
])
def test_a_page_speaks_the_language_of_its_request(language, title, message):
    request = Request({"type": "http", "method": "GET", "path": "/x", "query_string": b"", "scheme": "http",
                       "server": ("testserver", 80), "headers": [(b"accept-language", language.encode())]})
    page = templating.render(request, "error.html", title="Not Found", message="This page does not exist.",
                             values={}, status=404).body.decode()
    assert f"<h1>{title}</h1>" in page and f'<p class="message">{message}</p>' in page
