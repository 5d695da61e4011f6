"""Brand refresh over HTTP: a module's signed brand manifest, its files, the cheap 304 and who may ask."""

import hashlib
import io

import pytest
from PIL import Image

from sosqueue.brand_refresh import ASSETS_PATH, BRAND_PATH, BrandManifest
from sosqueue.module_config import ASSET_NAMES
from tests.support.queue_api import assert_problem
from tests.support.tenants import make_tenant

MODULES = "/api/v1/modules"


@pytest.fixture
def tenant(server):
    return make_tenant(server.database_url)


@pytest.fixture
def module(api, tenant) -> dict:
    """The tenant's module with a fresh token, and the server's update key that it carries."""
    response = api.call("POST", f"{MODULES}/{tenant.module_id}/rotate-token", tenant.admin_token)
    assert response.status_code == 200, response.text
    return response.json()


def manifest_of(api, module) -> BrandManifest:
    response = api.call("GET", BRAND_PATH, module["token"])
    assert response.status_code == 200, response.text
    manifest = BrandManifest.from_json(response.json())
    manifest.verify(module["update_key"], module_id=module["id"])
    return manifest


def logo(colour) -> bytes:
    encoded = io.BytesIO()
    Image.new("RGBA", (128, 128), colour).save(encoded, "PNG")
    return encoded.getvalue()


def put_logo(api, tenant, colour) -> dict:
    response = api.call("PUT", f"{MODULES}/{tenant.module_id}/brand/logo", tenant.admin_token, content=logo(colour))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_module_without_a_brand_of_its_own_gets_version_0_signed_for_it(api, module, tenant):
    """Version 0, the default brand under the company's name, every file named with hash and size."""
    manifest = manifest_of(api, module)
    assert manifest.version == 0 and manifest.module_id == tenant.module_id
    assert manifest.brand["company"] == tenant.name[:60]
    assert sorted(manifest.assets) == sorted(ASSET_NAMES)


def test_each_file_is_the_one_the_manifest_names(api, module):
    """Every asset's bytes match the signed SHA-256 and size."""
    manifest = manifest_of(api, module)
    for name, info in manifest.assets.items():
        response = api.call("GET", f"{ASSETS_PATH}/{name}", module["token"])
        assert response.status_code == 200, name
        assert (hashlib.sha256(response.content).hexdigest(), len(response.content)) == (info.sha256, info.size)
    assert api.call("GET", f"{ASSETS_PATH}/logo.png", module["token"]).headers["content-type"] == "image/png"


def test_a_new_logo_is_a_new_version_with_another_logo_hash(api, module, tenant):
    """After PUT …/brand/logo the manifest's version is the brand's and logo.png's hash changed."""
    before = manifest_of(api, module)
    stored = put_logo(api, tenant, (200, 30, 30, 255))
    after = manifest_of(api, module)
    assert after.version == stored["version"] > before.version
    assert after.assets["logo.png"].sha256 != before.assets["logo.png"].sha256


def test_a_brand_put_changes_names_and_version(api, module, tenant):
    """After PUT …/brand the manifest carries the new product and the options."""
    body = {"company": "Acme", "product": "Acme Desk", "options": {"file_immediately": True}}
    response = api.call("PUT", f"{MODULES}/{tenant.module_id}/brand", tenant.admin_token, json=body)
    assert response.status_code == 200, response.text
    manifest = manifest_of(api, module)
    assert (manifest.version, manifest.brand["product"], manifest.options["file_immediately"]) == (
        response.json()["version"], "Acme Desk", True)


def test_an_unchanged_brand_answers_304_and_a_changed_one_200(api, module, tenant):
    """If-None-Match with the manifest's ETag is a 304 until the brand changes."""
    first = api.call("GET", BRAND_PATH, module["token"])
    etag = first.headers["etag"]
    again = api.call("GET", BRAND_PATH, module["token"], headers={"If-None-Match": etag})
    assert (again.status_code, again.content) == (304, b"")
    put_logo(api, tenant, (30, 30, 200, 255))
    changed = api.call("GET", BRAND_PATH, module["token"], headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_a_file_of_an_older_version_is_refused_as_changed(api, module, tenant):
    """Asking for a file of a version that is no longer the brand's: 409, never another version's bytes."""
    old = manifest_of(api, module)
    put_logo(api, tenant, (30, 200, 30, 255))
    response = api.call("GET", f"{ASSETS_PATH}/logo.png", module["token"], params={"version": old.version})
    assert_problem(response, 409, "brand_changed")


def test_an_unknown_file_is_a_404_problem(api, module):
    assert_problem(api.call("GET", f"{ASSETS_PATH}/passwd", module["token"]), 404, "not_found")


def test_a_user_token_is_forbidden(api, tenant):
    """Admins read brands through …/modules/{id}/brand; this route is the module's."""
    assert_problem(api.call("GET", BRAND_PATH, tenant.admin_token), 403, "forbidden")
    assert_problem(api.call("GET", f"{ASSETS_PATH}/logo.png", tenant.admin_token), 403, "forbidden")


def test_a_revoked_module_is_unauthorised(api, module, tenant):
    response = api.call("POST", f"{MODULES}/{tenant.module_id}/revoke", tenant.admin_token)
    assert response.status_code == 200, response.text
    assert_problem(api.call("GET", BRAND_PATH, module["token"]), 401, "invalid_token")


def test_no_token_is_unauthorised(api):
    assert_problem(api.call("GET", BRAND_PATH), 401, "unauthenticated")


def store_as_an_older_server_did(database_url: str, module_id: str, **settings) -> None:
    """Write brand settings straight into the database, past today's checks (an older server's looser rules)."""
    from server.db import Database
    from server.models import Module

    database = Database(database_url)
    try:
        with database.write() as session:
            stored = session.get(Module, module_id).brand
            stored.settings = {**stored.settings, **settings}
            stored.version += 1
    finally:
        database.dispose()


@pytest.fixture
def stale_brand(api, server, tenant) -> None:
    """A brand whose text colour on its primary fails today's contrast rule."""
    response = api.call("PUT", f"{MODULES}/{tenant.module_id}/brand", tenant.admin_token,
                        json={"company": "Acme", "product": "Acme Help"})
    assert response.status_code == 200, response.text
    store_as_an_older_server_did(server.database_url, tenant.module_id, primary="#FFFFFF", on_primary="#FFFFEE")


def test_a_stored_brand_that_fails_todays_rules_is_a_clear_problem_for_modules(api, module, stale_brand):
    """Not a 500: 409 naming the rule and where to fix it."""
    problem = assert_problem(api.call("GET", BRAND_PATH, module["token"]), 409, "conflict")
    assert problem["detail"].startswith("the module's stored brand no longer passes the current rules "
                                        "(brand on_primary")
    assert problem["detail"].endswith("edit it in Admin → Modules → Brand")


def test_a_download_of_a_module_with_a_stale_brand_is_refused_with_the_same_words(server, tenant, stale_brand):
    from server import brands, downloads
    from server.db import Database
    from server.models import Module

    database = Database(server.database_url)
    try:
        with database.read() as session, pytest.raises(brands.StoredBrandInvalid, match="edit it in Admin"):
            downloads.module_spec(session.get(Module, tenant.module_id), token="t", server_url=server.url,
                                  update_key="")
    finally:
        database.dispose()


def test_a_download_carries_the_version_the_modules_are_offered(api, server, module, tenant):
    """The brand version stamped into a download is the manifest's: the module starts current."""
    from server import downloads
    from server.db import Database
    from server.models import Module

    put_logo(api, tenant, (120, 20, 160, 255))
    database = Database(server.database_url)
    try:
        with database.read() as session:
            spec = downloads.module_spec(session.get(Module, tenant.module_id), token="t", server_url=server.url,
                                         update_key=module["update_key"])
    finally:
        database.dispose()
    assert spec.brand_version == manifest_of(api, module).version > 0


def test_the_manifest_carries_the_modules_topics(api, module, tenant):
    """Running modules learn their topics (and a change of them) from the signed manifest."""
    topics = [{"label": "Billing", "group": ""}, {"label": "Other", "group": ""}]
    response = api.set_topics(tenant.admin_token, tenant.module_id, topics)
    assert response.status_code == 200, response.text
    manifest = manifest_of(api, module)
    assert (manifest.version, list(manifest.options["topics"])) == (response.json()["version"], topics)
