"""The pages carry the shared vocabulary, and the scripts take it from there instead of copying it."""

import html
import json
import re

import pytest

from server.web.templating import STATIC_DIR
from server.web.vocabulary import NAME
from sosqueue.connect import (
    MAX_INPUT_TEXT_CHARS,
    MAX_MONITORS,
    MAX_WHEEL_NOTCHES,
    REGION_FIELDS,
    REGION_HEADER_BYTES,
    REGION_MAGIC,
    TAKE_BACK_KEY,
    TAKE_BACK_LABEL,
    TAKE_BACK_MODIFIERS,
    Button,
    CloseCode,
    Key,
    Message,
    Modifier,
    Scope,
)
from sosqueue.events import QUEUE_EVENTS, EventType
from sosqueue.statuses import Status
from tests.server.inprocess import in_process
from tests.support.servers import sqlite_url

_META = re.compile(rf'<meta name="{NAME}" content="([^"]*)">')


@pytest.fixture(scope="module")
def login_page(tmp_path_factory) -> str:
    with in_process(sqlite_url(tmp_path_factory.mktemp("db"))) as client:
        return client.get("/login").text


def rendered(page: str) -> dict:
    (content,) = _META.findall(page)
    return json.loads(html.unescape(content))


def test_the_rendered_constants_equal_the_enums(login_page):
    vocabulary = rendered(login_page)
    assert vocabulary["event"] == {event.name: event.value for event in EventType}
    assert vocabulary["queueEvents"] == [event.value for event in QUEUE_EVENTS]
    assert vocabulary["status"] == {status.name: status.value for status in Status}
    assert vocabulary["message"] == {message.name: message.value for message in Message}
    assert vocabulary["close"] == {code.name: code.value for code in CloseCode}
    assert vocabulary["regionFrame"] == {"magic": REGION_MAGIC.decode(), "headerBytes": REGION_HEADER_BYTES,
                                         "fields": list(REGION_FIELDS)}


def test_the_rendered_remote_control_names_equal_the_enums(login_page):
    """Keys, modifiers, buttons, scopes, the customer's take-back combination and the input limits."""
    vocabulary = rendered(login_page)
    assert vocabulary["key"] == {key.name: key.value for key in Key}
    assert vocabulary["key"]["SPACE"] == " " and vocabulary["key"]["ARROW_LEFT"] == "ArrowLeft"
    assert vocabulary["modifier"] == {modifier.name: modifier.value for modifier in Modifier}
    assert vocabulary["button"] == {button.name: button.value for button in Button}
    assert vocabulary["scope"] == {scope.name: scope.value for scope in Scope}
    assert vocabulary["takeBack"] == {"modifiers": sorted(TAKE_BACK_MODIFIERS), "key": TAKE_BACK_KEY,
                                      "label": TAKE_BACK_LABEL}
    assert vocabulary["inputLimits"] == {"wheelNotches": MAX_WHEEL_NOTCHES, "textChars": MAX_INPUT_TEXT_CHARS,
                                         "monitors": MAX_MONITORS}


def test_the_page_has_no_script_but_its_own(login_page):
    """The vocabulary is data in a meta tag: nothing for the Content-Security-Policy to allow."""
    assert re.findall(r"<script[^>]*>", login_page) == ['<script src="/static/app.js" defer>']


@pytest.mark.parametrize("script", ["app.js", "session.js"])
def test_the_scripts_use_only_names_the_vocabulary_has(login_page, script):
    source = (STATIC_DIR / script).read_text()
    vocabulary = rendered(login_page)
    assert f"meta[name='{NAME}']" in source
    for group, key in (("event", "EVENT"), ("status", "STATUS"), ("message", "MESSAGE"), ("close", "CLOSE"),
                       ("stopReason", "STOP_REASON"), ("key", "KEY"), ("modifier", "MODIFIER"), ("button", "BUTTON"),
                       ("scope", "SCOPE")):
        assert set(re.findall(rf"\b{key}\.([A-Z_]+)", source)) <= set(vocabulary[group])


@pytest.mark.parametrize("script", ["app.js", "session.js"])
def test_the_scripts_hold_no_copies_of_close_codes_event_or_message_types(script):
    source = (STATIC_DIR / script).read_text()
    assert not re.search(r"\b(4000|4401|4403|4404|4409|1013)\b", source)
    assert REGION_MAGIC.decode() not in source and not re.search(rf"\b{REGION_HEADER_BYTES}\b", source)
    assert not re.search(r"""type: *["']""", source)  # messages are sent as MESSAGE.…
    assert not re.search(r"""type === *["']""", source)  # and told apart by the vocabulary


def test_the_session_script_holds_no_copies_of_remote_control_names():
    """Scopes, buttons, modifiers, the take-back combination and the limits come from the vocabulary."""
    source = (STATIC_DIR / "session.js").read_text()
    assert not re.search(r"""["'](control|left|middle|right|Control|Alt|Meta|Shift)["']""", source)
    assert TAKE_BACK_LABEL not in source
    assert not re.search(rf"\b({MAX_WHEEL_NOTCHES}|{MAX_INPUT_TEXT_CHARS})\b", source)
