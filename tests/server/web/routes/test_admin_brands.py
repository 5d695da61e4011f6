"""The brand editor over HTTP: what it saves, what it refuses (keeping the last good brand), who may
use it, its preview, and that a download carries what was saved.

Downloads are stamped onto a real tiny Windows executable (tests/support/bases.py).
"""

import base64
import io
import re
import struct
import zlib
from html.parser import HTMLParser

import pytest
from PIL import Image

from branding.model import Brand, decode_logo
from branding.render import PREVIEW_SIZE, render_assets
from server import brands
from server.models import ModuleBrand
from sosqueue import module_config, palette, payload
from sosqueue.module_config import BRAND_TEXTS, TEXT_LANGUAGES
from tests.server.web.routes.test_admin_modules import create, download, error_message, field_errors
from tests.support.databases import own_server
from tests.support.queue_api import QueueApi
from tests.support import bases
from tests.support.dashboard import FORGED, NOT_ADMIN, NOT_HERE, PASSWORD, logged_in
from tests.support.tenants import make_tenant

REFUSED = "This cannot be saved: "
GREEN = "#1E7F3C"


@pytest.fixture(scope="module")
def server(backend, request, tmp_path_factory):
    """A real server on each backend with a Windows base agent to stamp downloads from."""
    bases_dir = tmp_path_factory.mktemp("bases")
    (bases_dir / "windows").mkdir()
    (bases_dir / "windows" / "sosqueue-agent.exe").write_bytes(bases.minimal_pe())
    env = {"SOSQUEUE_BASES_DIR": str(bases_dir)}
    with own_server(backend, request, tmp_path_factory, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(server):
    return make_tenant(server.database_url, password=PASSWORD, supporters=1)


@pytest.fixture(scope="module")
def other(server):
    return make_tenant(server.database_url, password=PASSWORD)


@pytest.fixture
def module_id(admin) -> str:
    """A fresh module of the tenant, made on the modules page (its token can go into a download)."""
    return create(admin)[0]


# -- helpers -------------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The brand form's values as a browser would send them: text, checked boxes, selected options."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str | bool] = {}
        self._select = self._textarea = None
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._in_form = attributes.get("id") == "brand-form"
        if not self._in_form:
            return
        name = attributes.get("name")
        if tag == "input" and name and attributes.get("type") not in ("file", "hidden"):
            checkbox = attributes.get("type") == "checkbox"
            self.values[name] = "checked" in attributes if checkbox else attributes.get("value", "")
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in attributes:
            self.values[self._select] = attributes["value"]
        elif tag == "textarea":
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(page: str) -> dict[str, str | bool]:
    reader = FormReader()
    reader.feed(page)
    return reader.values


def posted(values: dict) -> dict[str, str]:
    """The form as a browser posts it: a checked box as "on", an unchecked one left out."""
    return {name: ("on" if value is True else value) for name, value in values.items() if value is not False}


def brand_path(module_id: str) -> str:
    return f"/admin/modules/{module_id}/brand"


def editor(admin, module_id: str) -> dict:
    response = admin.get(brand_path(module_id))
    assert response.status_code == 200, response.text
    return form_values(response.text)


def save(admin, module_id: str, changes: dict, *, logo: bytes | None = None):
    values = {**editor(admin, module_id), **changes}
    files = {"logo": ("logo.png", logo, "image/png")} if logo is not None else None
    return admin.post(brand_path(module_id), posted(values), files=files)


def stored(database, module_id: str) -> ModuleBrand | None:
    with database.read() as session:
        kept = session.get(ModuleBrand, module_id)
        if kept is not None:
            session.expunge(kept)
        return kept


def png(colour: str = GREEN, size: int = 128) -> bytes:
    encoded = io.BytesIO()
    Image.new("RGBA", (size, size), colour).save(encoded, format="PNG")
    return encoded.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` pixels, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


def contrast_table(page: str) -> dict[str, str]:
    """{pair name: verdict class} of the page's contrast table."""
    return dict(re.findall(r'<tr data-pair="([^"]+)" class="(passes|fails)">', page.replace("&#39;", "'")))


# -- the page ------------------------------------------------------------------------------


def test_each_module_row_links_to_its_brand_editor(admin, module_id):
    assert f'<a class="button brand-link" href="{brand_path(module_id)}">' in admin.get("/admin/modules").text


def test_a_new_module_shows_the_default_brand_under_the_company_name_with_every_pair_and_a_preview(
        admin, tenant, module_id):
    page = admin.get(brand_path(module_id)).text
    values = form_values(page)
    assert (values["company"], values["product"], values["primary"]) == (tenant.name, tenant.name, "#0B5FFF")
    assert {values[f"texts.{language}.{kind}"] for language in TEXT_LANGUAGES for kind in BRAND_TEXTS} == {""}
    assert (values["fields.description"], values["options.file_immediately"]) == ("required", False)
    default_pairs = palette.text_pairs(palette.Palette.from_colours("#0B5FFF", None, "#E5262A"))
    assert contrast_table(page) == {pair.name: "passes" for pair in default_pairs}
    assert 'id="preview" src="data:image/png;base64,' in page


# -- saving --------------------------------------------------------------------------------


def test_names_colours_texts_fields_and_options_are_saved_and_shown_again_with_a_new_version(
        admin, database, module_id):
    before = editor(admin, module_id)
    changes = {"company": "Acme", "product": "Acme Help", "window_title": "Acme: help", "primary": "#1e7f3c",
               "accent": "#B3261E", "language": "de", "welcome": "Hello everyone",
               "texts.de.welcome": "Willkommen bei Acme", "texts.en.privacy": "We keep your data in the EU.",
               "fields.email": "required", "fields.description": "optional", "options.file_immediately": True,
               "options.autostart": True, "options.start_menu": False}
    response = admin.post(brand_path(module_id), posted({**before, **changes}))
    assert (response.status_code, response.headers["location"]) == (303, f"{brand_path(module_id)}?saved=1")

    kept = stored(database, module_id)
    assert kept.version == 1
    assert kept.settings == Brand(company="Acme", product="Acme Help", window_title="Acme: help", primary="#1E7F3C",
                                  accent="#B3261E", language="de", welcome="Hello everyone",
                                  texts={"de": {"welcome": "Willkommen bei Acme"},
                                         "en": {"privacy": "We keep your data in the EU."}}).settings()
    assert kept.options["fields"] == {"name": "optional", "email": "required", "description": "optional"}
    assert (kept.options["file_immediately"], kept.options["autostart"], kept.options["start_menu"]) == (
        True, True, False)
    page = admin.get(f"{brand_path(module_id)}?saved=1").text
    assert 'id="saved"' in page and 'data-version="1"' in page
    assert form_values(page) == {**before, **changes, "primary": "#1E7F3C"}


def test_saving_the_same_brand_again_does_not_bump_its_version(admin, database, module_id):
    save(admin, module_id, {"product": "Same"})
    assert save(admin, module_id, {}).status_code == 303
    assert stored(database, module_id).version == 1


def test_a_logo_is_saved_re_encoded_as_png_together_with_the_settings(admin, database, module_id):
    jpeg = io.BytesIO()
    Image.new("RGB", (200, 100), GREEN).save(jpeg, format="JPEG")
    response = save(admin, module_id, {"product": "With logo"}, logo=jpeg.getvalue())
    assert response.status_code == 303, field_errors(response.text)
    kept = stored(database, module_id)
    assert kept.settings["product"] == "With logo"
    with Image.open(io.BytesIO(kept.logo_png)) as logo:
        assert (logo.format, logo.size) == ("PNG", (200, 100))
    page = admin.get(brand_path(module_id)).text
    assert 'name="remove_logo"' in page and 'id="default-logo"' not in page


def test_removing_the_logo_gives_the_default_logo_again(admin, database, module_id):
    save(admin, module_id, {}, logo=png())
    version = stored(database, module_id).version
    assert save(admin, module_id, {"remove_logo": True}).status_code == 303
    kept = stored(database, module_id)
    assert (kept.logo_png, kept.version) == (None, version + 1)
    assert 'id="default-logo"' in admin.get(brand_path(module_id)).text


BAD_INPUT = {
    "not an image": ({}, b"%PDF-1.7 not a picture", "logo",
                     "the uploaded logo is not an image Pillow can read; use a PNG, JPEG, GIF, ICO, BMP or WebP file"),
    "over 2 MB": ({}, b"\x89PNG" + bytes(brands.MAX_UPLOAD_BYTES), "logo",
                  "the uploaded logo is 2.0 MB, over the limit of 2 MB; export the logo at 512 to 1024 pixels"),
    "an image bomb": ({}, png_claiming(30000, 30000), "logo",
                      "the uploaded logo has 900.0 megapixels, over the limit of 20 megapixels; "
                      "export the logo at 512 to 1024 pixels"),
    "faint text": ({"on_primary": "#5A8BFF"}, None, "on_primary",
                   "text #5A8BFF on #0B5FFF has a contrast of 1.60:1, below the WCAG minimum of 4.5:1; use #FFFFFF, "
                   "leave on_primary out to pick one automatically, or set force_contrast = true"),
    "too long a text": ({"texts.de.closed": "Danke! " * 50}, None, "texts.de.closed",
                        "has 349 characters, more than 300; shorten it"),
    "no product name": ({"product": "  "}, None, "product", "is empty; give a name of 1 to 60 characters"),
    "not a colour": ({"primary": "blurple"}, None, "primary",
                     "'blurple' is not a colour; write it as #RRGGBB or #RGB (e.g. #0B5FFF) or use one of: black, "
                     "blue, gray, green, grey, navy, orange, purple, red, teal, white"),
}


@pytest.mark.parametrize("changes, logo, field, rule", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_beside_its_field_and_the_last_good_brand_stays(
        admin, database, module_id, changes, logo, field, rule):
    save(admin, module_id, {"product": "Good"}, logo=png())
    before = stored(database, module_id)
    typed = {**changes, "company": "Typed but not saved"}

    response = save(admin, module_id, typed, logo=logo)

    assert response.status_code == 422
    message = field_errors(response.text)[field]
    assert message.startswith(REFUSED)
    if rule:
        assert message == REFUSED + rule
    after = stored(database, module_id)
    assert (after.version, after.settings, after.options, after.logo_png) == (
        before.version, before.settings, before.options, before.logo_png)
    kept = form_values(response.text)
    assert {name: kept[name] for name in typed} == typed


def test_a_valid_logo_sent_with_a_refused_setting_is_not_saved_and_the_page_says_so(admin, database, module_id):
    response = save(admin, module_id, {"product": ""}, logo=png())
    assert response.status_code == 422
    assert 'id="logo-lost"' in response.text
    assert stored(database, module_id) is None


def test_a_brand_kept_under_older_rules_opens_with_the_reason_beside_its_field(admin, database, module_id):
    with database.write() as session:
        session.add(ModuleBrand(module_id=module_id, settings={"product": "Help/Desk"}, options={}, version=3))
    response = admin.get(brand_path(module_id))
    assert response.status_code == 200
    assert field_errors(response.text) == {
        "product": REFUSED + "contains /, which cannot be in a shortcut's file name; remove them"}
    assert form_values(response.text)["product"] == "Help/Desk"
    assert save(admin, module_id, {"product": "Help Desk"}).status_code == 303
    assert (stored(database, module_id).settings["product"], stored(database, module_id).version) == ("Help Desk", 4)


def test_faint_text_is_saved_when_the_admin_ticks_force_contrast(admin, database, module_id):
    response = save(admin, module_id, {"on_primary": "#5A8BFF", "force_contrast": True})
    assert response.status_code == 303
    page = admin.get(brand_path(module_id)).text
    assert contrast_table(page)["text on the primary colour"] == "fails"
    assert stored(database, module_id).settings["force_contrast"] is True


def test_an_unknown_field_mode_is_refused(admin, database, module_id):
    response = save(admin, module_id, {"fields.email": "sometimes"})
    assert response.status_code == 422
    assert field_errors(response.text) == {"fields.email": "Choose one of the offered options."}
    assert stored(database, module_id) is None


# -- the preview ---------------------------------------------------------------------------


def preview(admin, module_id: str, changes: dict, *, logo: bytes | None = None):
    values = {**editor(admin, module_id), **changes}
    files = {"logo": ("logo.png", logo, "image/png")} if logo is not None else None
    return admin.post(f"{brand_path(module_id)}/preview", posted(values), files=files)


def picture(answer: dict) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert answer["image"].startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(answer["image"][len(prefix):])))


def test_the_preview_draws_the_typed_brand_with_a_chosen_logo_and_saves_nothing(admin, database, module_id):
    plain = preview(admin, module_id, {}).json()
    response = preview(admin, module_id, {"primary": GREEN, "product": "Preview"}, logo=png("#FF00FF"))
    answer = response.json()
    assert (response.status_code, answer["ok"], answer["errors"]) == (200, True, {})
    assert picture(answer).size == PREVIEW_SIZE
    assert answer["image"] != plain["image"]
    expected = palette.text_pairs(palette.Palette.from_colours(GREEN, None, "#E5262A"))
    assert [(pair["name"], pair["contrast"]) for pair in answer["pairs"]] == [
        (pair.name, f"{pair.contrast:.2f}") for pair in expected]
    assert stored(database, module_id) is None


def test_the_preview_of_faint_colours_draws_them_and_names_the_failing_pairs(admin, module_id):
    answer = preview(admin, module_id, {"on_primary": "#5A8BFF"}).json()
    assert answer["ok"] is False
    assert answer["errors"]["on_primary"].startswith(REFUSED + "text #5A8BFF on #0B5FFF has a contrast of 1.60:1")
    assert picture(answer).size == PREVIEW_SIZE
    failing = {pair["name"] for pair in answer["pairs"] if not pair["passes"]}
    assert "text on the primary colour" in failing


def test_the_preview_of_bad_input_answers_the_errors_without_an_image(admin, module_id):
    answer = preview(admin, module_id, {"texts.en.welcome": "x" * 501}, logo=b"not an image").json()
    assert (answer["ok"], answer["image"]) == (False, None)
    assert answer["errors"] == {
        "texts.en.welcome": REFUSED + "has 501 characters, more than 500; shorten it",
        "logo": REFUSED + "the uploaded logo is not an image Pillow can read; use a PNG, JPEG, GIF, ICO, BMP or WebP file",
    }
    assert len(answer["pairs"]) == len(palette.text_pairs(palette.Palette.from_colours("#0B5FFF", None, "#E5262A")))
    assert preview(admin, module_id, {"primary": "blurple"}).json()["pairs"] == []


def test_the_preview_speaks_the_admins_language(server, tenant, module_id):
    with logged_in(server.url, tenant.admin_email) as german:
        german.get("/language/de")
        answer = preview(german, module_id, {"product": ""}).json()
        drawn = preview(german, module_id, {}).json()
    assert answer["errors"] == {"product": "So kann das nicht gespeichert werden: "
                                           "is empty; give a name of 1 to 60 characters"}
    labels = {pair["name"]: pair["label"] for pair in drawn["pairs"]}
    assert labels["text on the primary colour"] == "Text auf der Hauptfarbe"


# -- body limits ---------------------------------------------------------------------------


def test_the_editor_takes_a_logo_of_up_to_2_mb_where_other_forms_keep_the_small_limit(admin, module_id):
    large = b"\x89PNG" + bytes(brands.MAX_UPLOAD_BYTES - 4)
    for path in (brand_path(module_id), f"{brand_path(module_id)}/preview"):
        response = admin.post(path, posted(editor(admin, module_id)), files={"logo": ("big.png", large, "image/png")})
        assert response.status_code in (200, 422), path  # read and judged, not refused at the door
        assert "the uploaded logo is not an image Pillow can read" in response.text
    elsewhere = admin.post("/admin/modules", {"name": "x"}, files={"logo": ("big.png", large, "image/png")})
    assert elsewhere.status_code == 413


# -- who may do what -----------------------------------------------------------------------


def test_a_forged_save_or_preview_changes_nothing(admin, database, module_id):
    values = {**posted(editor(admin, module_id)), "product": "Forged", "csrf_token": "forged"}
    for path in (brand_path(module_id), f"{brand_path(module_id)}/preview"):
        response = admin.post(path, values)
        assert (response.status_code, error_message(response.text)) == (403, FORGED)
    assert stored(database, module_id) is None


def test_supporters_get_the_403_page_on_the_editor_its_save_and_its_preview(server, tenant, database):
    with logged_in(server.url, tenant.supporter_email) as supporter:
        responses = [supporter.get(brand_path(tenant.module_id)),
                     supporter.post(brand_path(tenant.module_id), {"product": "Mine"}),
                     supporter.post(f"{brand_path(tenant.module_id)}/preview", {"product": "Mine"})]
    assert [r.status_code for r in responses] == [403] * 3
    assert {error_message(r.text) for r in responses} == {NOT_ADMIN}
    assert stored(database, tenant.module_id) is None


def test_another_company_module_brand_gives_404_and_stays(admin, other, database):
    responses = [admin.get(brand_path(other.module_id)),
                 admin.post(brand_path(other.module_id), {"product": "Taken"}),
                 admin.post(f"{brand_path(other.module_id)}/preview", {"product": "Taken"})]
    assert [r.status_code for r in responses] == [404] * 3
    assert error_message(responses[0].text) == NOT_HERE
    assert stored(database, other.module_id) is None


# -- what a download carries ---------------------------------------------------------------


def test_a_download_after_editing_carries_the_edited_brand_options_and_logo(admin, database, module_id, tmp_path):
    response = save(admin, module_id, {"product": "Acme Help", "primary": GREEN, "texts.de.waiting": "Gleich geht's los",
                                       "fields.name": "hidden", "options.file_immediately": True}, logo=png("#FF8800"))
    assert response.status_code == 303
    kept = stored(database, module_id)

    response, module = download(admin, module_id, "windows", tmp_path)

    assert response.status_code == 200
    carried = module_config.parse(payload.read(module))
    brand = Brand.from_mapping(kept.settings).with_logo(decode_logo(kept.logo_png, "logo"), "logo")
    assert carried.brand == brand.stamped()
    shared = {name: value for name, value in brand.settings().items() if name in module_config.Brand.__dataclass_fields__}
    assert {name: getattr(carried.brand, name) for name in shared} == {**shared, "window_title": brand.title}
    assert (carried.options.fields.name, carried.options.file_immediately) == ("hidden", True)
    assert carried.assets["logo.png"] == render_assets(brand)["logo.png"]


def test_the_editor_speaks_german(server, tenant, module_id):
    with logged_in(server.url, tenant.admin_email) as german:
        german.get("/language/de")
        page = german.get(brand_path(module_id)).text
        refused = save(german, module_id, {"texts.en.waiting": "x" * 301})
    for text in ("Marke von", "Hauptfarbe", "Alle Sprachen", "Pflichtfeld", "Marke speichern", "Kontrast",
                 "Text auf der Hauptfarbe", "der Name des Supporters im Chat"):
        assert text in page
    assert field_errors(refused.text) == {
        "texts.en.waiting": "So kann das nicht gespeichert werden: has 301 characters, more than 300; shorten it"}


# -- topics --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def groups(server, tenant) -> list[str]:
    """Two groups of the tenant, made over the API."""
    api = QueueApi(server.url)
    try:
        return [api.new_group(tenant.admin_token, name) for name in ("Accounts", "Hardware")]
    finally:
        api.close_client()


def topic_rows(values: dict) -> list[tuple[str, str]]:
    return [(values[f"topics.{row}.label"], values[f"topics.{row}.group"]) for row in range(module_config.MAX_TOPICS)]


def test_topics_are_saved_without_the_empty_rows_and_shown_again_in_order(admin, database, module_id, groups):
    changes = {"topics.0.label": "Invoices", "topics.0.group": groups[0], "topics.2.label": "Printer",
               "topics.2.group": groups[1], "topics.5.label": "Something else"}
    assert save(admin, module_id, changes).status_code == 303
    kept = stored(database, module_id)
    assert kept.options["topics"] == [{"label": "Invoices", "group": groups[0]},
                                      {"label": "Printer", "group": groups[1]},
                                      {"label": "Something else", "group": ""}]
    shown = topic_rows(editor(admin, module_id))
    assert shown[:4] == [("Invoices", groups[0]), ("Printer", groups[1]), ("Something else", ""), ("", "")]
    assert save(admin, module_id, {}).status_code == 303
    assert stored(database, module_id).version == kept.version


def test_each_topic_row_offers_the_module_group_and_every_group_of_the_company(admin, module_id, groups):
    page = admin.get(brand_path(module_id)).text
    select = re.search(r'<select name="topics\.0\.group"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", *groups]
    assert "The module&#39;s group" in select


@pytest.mark.parametrize("changes, field, words", [
    ({"topics.0.label": "Invoices", "topics.0.group": "Gone"}, "topics.0.group", "there is no group 'Gone'"),
    ({"topics.0.label": "Invoices", "topics.1.label": "invoices"}, "topics", "each label may appear only once"),
    ({"topics.3.group": "Accounts"}, "topics.0.label", "Give the topic a label"),
    ({"topics.0.label": "x" * 61}, "topics.0.label", "a label is one line of 1 to 60 characters"),
], ids=["unknown group", "repeated label", "group without label", "too long"])
def test_topics_that_cannot_be_kept_are_refused_beside_their_row_and_nothing_is_saved(
        admin, database, module_id, groups, changes, field, words):
    response = save(admin, module_id, {**changes, "product": "Typed but not saved"})
    assert response.status_code == 422
    assert words in field_errors(response.text)[field]
    assert stored(database, module_id) is None
    assert form_values(response.text)["product"] == "Typed but not saved"


def test_a_topic_whose_group_was_deleted_shows_it_as_gone_and_must_be_changed_to_save(
        admin, database, module_id, groups):
    save(admin, module_id, {"topics.0.label": "Old team", "topics.0.group": groups[1]})
    with database.write() as session:
        kept = session.get(ModuleBrand, module_id)
        kept.options = {**kept.options, "topics": [{"label": "Old team", "group": "Disbanded"}]}
    page = admin.get(brand_path(module_id)).text
    assert '<option value="Disbanded" selected>Disbanded (no longer exists)</option>' in page
    response = save(admin, module_id, {})
    assert "there is no group 'Disbanded'" in field_errors(response.text)["topics.0.group"]
    assert save(admin, module_id, {"topics.0.group": ""}).status_code == 303
    assert stored(database, module_id).options["topics"] == [{"label": "Old team", "group": ""}]
