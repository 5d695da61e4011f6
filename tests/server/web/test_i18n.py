"""Every text the dashboard shows exists in English and German."""

import ast
import re
from pathlib import Path

import pytest

from sosqueue.statuses import Status
from server.web.i18n import translator
from server.web.locale_de import GERMAN
from server.web.locale_en import ENGLISH
from server.web.templating import TEMPLATES_DIR

WEB = Path(TEMPLATES_DIR).parent
_TEMPLATE_TEXT = re.compile(r'_\("((?:[^"\\]|\\.)*)"')
_LABEL_PREFIXES = ("status:", "event:", "actor:", "source:")
EVENT_TYPES = ["created", "assigned", "claimed", "joined", "left", "status_changed", "closed", "expired",
               "screen_shared", "screen_denied", "screen_stopped"]


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


@pytest.mark.parametrize("catalog", [ENGLISH, GERMAN], ids=["english", "german"])
def test_every_status_event_and_source_has_a_label(catalog):
    keys = [f"status:{s.value}" for s in Status] + ["status:open", "status:all"]
    keys += [f"event:{t}" for t in EVENT_TYPES] + [f"source:{s}" for s in ("manual", "module", "sos")]
    keys += [f"actor:{a}" for a in ("system", "customer", "module", "expert")]
    assert [key for key in keys if key not in catalog] == []


def test_translations_keep_every_placeholder_of_the_english_text():
    placeholder = re.compile(r"\{(\w+)\}")
    broken = [english for english, german in GERMAN.items()
              if set(placeholder.findall(english)) != set(placeholder.findall(german))]
    assert broken == []


def test_german_is_chosen_and_formatted_with_values():
    assert translator("de")("Request {code} is filed.", code="s12-345-678") == "Die Anfrage s12-345-678 ist angelegt."
    assert translator("en")("Request {code} is filed.", code="s12-345-678") == "Request s12-345-678 is filed."
    assert translator("en")("status:in_progress") == "In progress"
