"""A module's brand on the server: read, set, checked with the builder's rules, and its logo."""

import hashlib
import io

import pytest
from PIL import Image

from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant

MODULES = "/api/v1/modules"


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url)


def brand_path(tenant) -> str:
    return f"{MODULES}/{tenant.module_id}/brand"


def png(size=(128, 128), colour=(0, 160, 60, 255), format="PNG") -> bytes:
    encoded = io.BytesIO()
    Image.new("RGBA" if format == "PNG" else "RGB", size, colour[:4 if format == "PNG" else 3]).save(encoded, format)
    return encoded.getvalue()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_a_module_without_a_brand_of_its_own_shows_the_default_under_the_company_name(api, tenant):
    brand = ok(api.call("GET", brand_path(tenant), tenant.admin_token))
    assert (brand["version"], brand["logo_url"], brand["updated_at"]) == (0, None, None)
    assert brand["company"] == brand["product"] == tenant.name[:60]
    assert brand["options"]["fields"] == {"name": "optional", "email": "optional", "description": "required"}


def test_an_admin_sets_the_brand_and_each_change_bumps_its_version(api, tenant):
    body = {"company": "Acme", "product": "Acme Help", "primary": "#1a7f37", "welcome": "Hello",
            "options": {"file_immediately": True, "fields": {"email": "required"}}}
    first = ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json=body))
    assert (first["primary"], first["product"], first["welcome"], first["version"]) == ("#1A7F37", "Acme Help", "Hello", 1)
    assert first["options"]["file_immediately"] and first["options"]["fields"]["email"] == "required"
    second = ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json={**body, "waiting": "Soon"}))
    assert second["version"] == 2
    assert ok(api.call("GET", brand_path(tenant), tenant.admin_token)) == second


@pytest.mark.parametrize(("settings", "words"), [
    ({"primary": "#12345"}, "brand primary: "),
    ({"primary": "#FFFFFF", "on_primary": "#FFFFEE"}, "brand on_primary: text #FFFFEE on #FFFFFF has a contrast"),
    ({"product": "A/B"}, "brand product: contains /"),
    ({"welcome": "x" * 501}, "brand welcome: has 501 characters, more than 500; shorten it"),
    ({"texts": {"de": {"privacy": "x" * 201}}}, "brand texts.de.privacy: has 201 characters, more than 200"),
])
def test_a_brand_the_builder_refuses_is_refused_in_the_same_words(api, tenant, settings, words):
    from branding.model import Brand, BrandError

    with pytest.raises(BrandError) as refused:
        Brand.from_mapping(settings)
    problem = assert_problem(api.call("PUT", brand_path(tenant), tenant.admin_token, json=settings), 422, "invalid_brand")
    assert problem["detail"] == str(refused.value) and problem["detail"].startswith(words)
    assert ok(api.call("GET", brand_path(tenant), tenant.admin_token))["version"] == 0


def test_the_same_brand_and_logo_again_keep_the_version_so_running_modules_fetch_nothing(api, tenant):
    body = {"company": "Acme", "product": "Acme Help", "primary": "#1a7f37"}
    ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json=body))
    logo = png()
    version = ok(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=logo))["version"]
    assert ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json=body))["version"] == version
    assert ok(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=logo))["version"] == version
    changed = ok(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=png(colour=(9, 9, 9, 255))))
    assert changed["version"] == version + 1


def test_texts_are_kept_per_language_without_the_empty_ones(api, tenant):
    texts = {"de": {"welcome": "Willkommen", "closed": "  "}, "en": {"waiting": "", "privacy": "We never record."}}
    brand = ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json={"texts": texts}))
    assert brand["texts"]["de"] == {"welcome": "Willkommen", "waiting": "", "closed": "", "privacy": ""}
    assert brand["texts"]["en"]["privacy"] == "We never record."
    stored = ok(api.call("GET", brand_path(tenant), tenant.admin_token))
    assert stored["texts"] == brand["texts"]


def test_texts_in_a_language_the_agent_does_not_speak_are_refused(api, tenant):
    response = api.call("PUT", brand_path(tenant), tenant.admin_token, json={"texts": {"fr": {"welcome": "Bonjour"}}})
    assert response.status_code == 422, response.text
    assert ok(api.call("GET", brand_path(tenant), tenant.admin_token))["version"] == 0


def test_a_logo_is_kept_as_png_and_served_back(api, tenant):
    brand = ok(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=png(format="JPEG"),
                        headers={"Content-Type": "image/jpeg"}))
    assert brand["version"] == 1 and brand["logo_url"] == f"{brand_path(tenant)}/logo"
    logo = api.call("GET", brand["logo_url"], tenant.admin_token)
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    assert hashlib.sha256(logo.content).hexdigest() == brand["logo_sha256"]
    assert Image.open(io.BytesIO(logo.content)).format == "PNG"


def test_the_default_logo_is_not_served(api, tenant):
    assert_problem(api.call("GET", f"{brand_path(tenant)}/logo", tenant.admin_token), 404)


@pytest.mark.parametrize(("upload", "words"), [
    (b"not an image", "is not an image Pillow can read"),
    (png(size=(5000, 5000), format="PNG"), "over the limit of 20 megapixels"),
    (png(size=(16, 16)), "too small for the icons"),
])
def test_an_upload_that_is_no_usable_logo_is_refused_with_what_to_do(api, tenant, upload, words):
    problem = assert_problem(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=upload), 422,
                             "invalid_brand")
    assert words in problem["detail"] and problem["detail"].startswith("brand logo: the uploaded logo ")
    assert "\n" not in problem["detail"]
    assert ok(api.call("GET", brand_path(tenant), tenant.admin_token))["version"] == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_an_upload_over_two_megabytes_is_refused(api, tenant, chunked):
    body = b"\0" * (2 * 1024 * 1024 + 1)
    content = iter([body[:1024 * 1024], body[1024 * 1024:]]) if chunked else body
    problem = assert_problem(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=content), 413)
    assert "larger than 2097152 bytes" in problem["detail"]


def test_only_the_company_admin_reaches_the_brand(api, tenant, server):
    other = make_tenant(server.database_url)
    assert_problem(api.call("GET", brand_path(tenant), tenant.supporter_token), 403)
    assert_problem(api.call("GET", brand_path(tenant), other.admin_token), 404)
    assert_problem(api.call("PUT", brand_path(tenant), other.admin_token, json={}), 404)


def test_removing_the_logo_brings_back_the_default(api, tenant):
    ok(api.call("PUT", f"{brand_path(tenant)}/logo", tenant.admin_token, content=png()))
    brand = ok(api.call("DELETE", f"{brand_path(tenant)}/logo", tenant.admin_token))
    assert (brand["logo_url"], brand["logo_sha256"], brand["version"]) == (None, None, 2)
    assert_problem(api.call("GET", f"{brand_path(tenant)}/logo", tenant.admin_token), 404)


# -- topics --------------------------------------------------------------------------------


def topics_of(api, tenant) -> list[dict]:
    return ok(api.call("GET", brand_path(tenant), tenant.admin_token))["options"]["topics"]


def test_topics_are_kept_in_the_options_with_their_groups(api, tenant):
    billing = api.new_group(tenant.admin_token, f"billing-{tenant.name}")
    topics = [{"label": "Billing", "group": billing}, {"label": "Other", "group": ""}]
    brand = ok(api.set_topics(tenant.admin_token, tenant.module_id, topics))
    assert (brand["options"]["topics"], brand["version"]) == (topics, 1)
    assert topics_of(api, tenant) == topics


def test_the_same_topics_again_keep_the_version(api, tenant):
    topics = [{"label": "Billing"}, {"label": "Other"}]
    version = ok(api.set_topics(tenant.admin_token, tenant.module_id, topics))["version"]
    assert ok(api.set_topics(tenant.admin_token, tenant.module_id, topics))["version"] == version
    changed = ok(api.set_topics(tenant.admin_token, tenant.module_id, topics[::-1]))
    assert changed["version"] == version + 1


def test_options_kept_before_topics_existed_are_the_same_as_no_topics(api, tenant, server):
    """A brand saved by an older server (options without "topics") saved again unchanged is no new version."""
    from server.db import Database
    from server.models import ModuleBrand

    version = ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json={}))["version"]
    database = Database(server.database_url)
    try:
        with database.write() as session:
            stored = session.get(ModuleBrand, tenant.module_id)
            stored.options = {key: value for key, value in stored.options.items() if key != "topics"}
    finally:
        database.dispose()
    assert ok(api.call("PUT", brand_path(tenant), tenant.admin_token, json={}))["version"] == version


@pytest.mark.parametrize(("topics", "words"), [
    ([{"label": "Billing", "group": "no such group"}], "options.topics.0.group: topic 'Billing': there is no group "
                                                       "'no such group'; create it first"),
    ([{"label": "Billing"}, {"label": "billing"}], "options.topics: topics: each label may appear only once"),
])
def test_topics_that_cannot_route_are_refused_saying_what_to_fix(api, tenant, topics, words):
    problem = assert_problem(api.set_topics(tenant.admin_token, tenant.module_id, topics), 422, "invalid_topics")
    assert problem["detail"].startswith(words)
    assert ok(api.call("GET", brand_path(tenant), tenant.admin_token))["version"] == 0


@pytest.mark.parametrize("topics", [[{"label": ""}], [{"label": "x" * 61}], [{"label": f"t{n}"} for n in range(9)]])
def test_empty_too_long_or_too_many_topics_are_a_422(api, tenant, topics):
    assert_problem(api.set_topics(tenant.admin_token, tenant.module_id, topics), 422)
    assert topics_of(api, tenant) == []


def test_another_companys_group_is_no_group_for_topics(api, tenant, server):
    stranger = make_tenant(server.database_url)
    foreign = api.new_group(stranger.admin_token, f"theirs-{stranger.name}")
    problem = assert_problem(api.set_topics(tenant.admin_token, tenant.module_id, [{"label": "X", "group": foreign}]),
                             422, "invalid_topics")
    assert foreign in problem["detail"]
