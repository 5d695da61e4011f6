"""The help window's layout description: rows, what shows in which state, and the words of each part."""

import pytest

from sosqueue import window_layout as layout
from sosqueue.module_config import Brand, Fields
from sosqueue.window_layout import PREVIEW_STATES, Part, Role, When, part, rows, shown, text_of

FORM, WAITING, CLOSED = PREVIEW_STATES
BRAND = Brand(company="Acme", product="Acme Help")


def test_every_part_has_its_own_key():
    """The Tk window keeps its widgets by key: two parts may not share one."""
    keys = [part.key for page in layout.PAGES.values() for part in page]
    assert len(keys) == len(set(keys))


def test_parts_beside_another_share_its_row():
    parts = (Part("a", Role.BODY), Part("b", Role.BODY, beside=True), Part("c", Role.BODY))
    assert [[part.key for part in row] for row in rows(parts)] == [["a", "b"], ["c"]]


@pytest.mark.parametrize(("key", "mode", "expected"), [
    ("name_label", "optional", True), ("name_optional", "optional", True), ("name_optional", "required", False),
    ("name", "hidden", False), ("name_label", "hidden", False), ("name_error", "required", False),
])
def test_a_fields_parts_follow_its_mode(key, mode, expected):
    """A hidden field has no parts; "(optional)" only beside an optional field; messages wait for a message."""
    assert shown(part(key), FORM, Fields(name=mode), diagnostics=True) is expected


@pytest.mark.parametrize(("key", "waiting", "closed"), [
    ("privacy", True, False), ("note", True, False), ("cancel", True, False), ("again", False, True),
    ("code", True, True), ("chat", False, False),
])
def test_the_request_pages_parts_follow_the_requests_state(key, waiting, closed):
    assert (shown(part(key), WAITING, Fields(), diagnostics=True), shown(part(key), CLOSED, Fields(),
                                                                          diagnostics=True)) == (waiting, closed)


def test_the_diagnostics_parts_show_only_when_the_module_sends_them():
    assert not shown(part("send_details"), FORM, Fields(), diagnostics=False)
    assert part("details_toggle").when is When.DIAGNOSTICS


@pytest.mark.parametrize(("key", "status", "words"), [
    ("status", "pending", "Waiting for a supporter…"),
    ("code_hint", "new", "Tell this code to your supporter when they ask for it."),
    ("code_hint", "closed", "This session code is no longer valid."),
    ("detail", "new", "A supporter will be with you shortly. You can keep working meanwhile."),
    ("detail", "in_progress", "Your supporter is working on your request."),
    ("name_optional", "", " (optional)"),
])
def test_each_part_says_what_fits_the_status(key, status, words):
    assert text_of(part(key), BRAND, "en", str, status) == words


def test_a_brand_text_wins_over_the_built_in_one_in_its_language():
    brand = Brand(company="Acme", product="Acme Help", texts={"de": {"closed": "Danke!"}})
    assert text_of(part("detail"), brand, "de", str, "closed") == "Danke!"
    assert text_of(part("detail"), brand, "en", str, "closed") == layout.BUILT_IN_TEXTS["closed"]


def test_the_window_texts_are_german_in_the_shared_catalogue():
    german = layout.translation("de").gettext
    assert german("Your session code") == "Ihr Sitzungscode"
    assert german("Add a note") == "Notiz hinzufügen"
