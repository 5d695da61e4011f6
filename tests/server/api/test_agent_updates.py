"""Agent updates over HTTP: the signed offer of a platform's base agent, and the base itself.

The app runs in this process over SQLite with a bases folder as ``sosqueue build-base`` leaves
it: a small stand-in Linux base (an ELF header and filler) with its base.json.
"""

import hashlib
import logging
import os
from pathlib import Path

import pytest

from builder import base_file_name
from sosqueue.platforms import Platform
from sosqueue.updates import BASE_INFO, UPDATES_PATH, BadOffer, Offer, base_info
from tests.server.inprocess import in_process
from tests.support.bases import FAKE_LINUX_BASE, put_server_base
from tests.support.queue_api import assert_problem
from tests.support.servers import sqlite_url
from tests.support.tenants import bearer, make_tenant

SECRET = "agent-updates-test-secret-0123456789abcdef"
OTHER_SECRET = "agent-updates-other-secret-fedcba9876543210"
MODULES = "/api/v1/modules"
OFFER = f"{UPDATES_PATH}/linux"
FILE = f"{UPDATES_PATH}/linux/file"


@pytest.fixture
def bases_dir(tmp_path) -> Path:
    folder = tmp_path / "bases"
    put_server_base(folder, "linux", FAKE_LINUX_BASE)
    return folder


@pytest.fixture
def database_url(tmp_path) -> str:
    return sqlite_url(tmp_path)


@pytest.fixture
def client(database_url, bases_dir):
    with in_process(database_url, bases_dir=bases_dir, secret_key=SECRET) as running:
        yield running


@pytest.fixture
def tenant(database_url, client):
    return make_tenant(database_url)


@pytest.fixture
def module(client, tenant) -> dict:
    """A module registered over the API: its id, token and the server's update key."""
    response = client.post(MODULES, json={"name": "Kiosk"}, headers=bearer(tenant.admin_token))
    assert response.status_code == 201, response.text
    return response.json()


def current_offer(client, token: str) -> Offer:
    response = client.get(OFFER, headers=bearer(token))
    assert response.status_code == 200, response.text
    return Offer.from_json(response.json())


def test_the_offer_verifies_with_the_update_key_the_module_was_registered_with(client, module):
    offer = current_offer(client, module["token"])
    offer.verify(module["update_key"])
    assert (offer.platform, offer.version) == ("linux", "0.1.0")
    assert (offer.sha256, offer.size) == (hashlib.sha256(FAKE_LINUX_BASE).hexdigest(), len(FAKE_LINUX_BASE))


def test_the_file_is_exactly_the_offered_base(client, module):
    offer = current_offer(client, module["token"])
    response = client.get(FILE, headers=bearer(module["token"]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers["content-length"]) == offer.size
    assert response.content == FAKE_LINUX_BASE
    assert hashlib.sha256(response.content).hexdigest() == offer.sha256


@pytest.mark.parametrize("path", [OFFER, FILE])
@pytest.mark.parametrize("who", ["admin", "supporter"])
def test_a_users_token_is_forbidden(client, tenant, path, who):
    token = tenant.admin_token if who == "admin" else tenant.supporter_token
    assert_problem(client.get(path, headers=bearer(token)), 403, code="forbidden")


@pytest.mark.parametrize("path", [OFFER, FILE])
def test_a_revoked_module_is_unauthenticated(client, tenant, module, path):
    revoked = client.post(f"{MODULES}/{module['id']}/revoke", headers=bearer(tenant.admin_token))
    assert revoked.status_code == 200, revoked.text
    assert_problem(client.get(path, headers=bearer(module["token"])), 401, code="invalid_token")


@pytest.mark.parametrize("path", [f"{UPDATES_PATH}/windows", f"{UPDATES_PATH}/windows/file"])
def test_without_a_base_the_answer_is_a_404_that_says_to_build_it(client, module, path):
    problem = assert_problem(client.get(path, headers=bearer(module["token"])), 404, code="no_base_agent")
    assert "Windows" in problem["detail"] and "sosqueue build-base" in problem["detail"]


@pytest.mark.parametrize("path", [OFFER, FILE])
def test_a_base_without_base_json_is_not_offered_and_its_folder_not_named(client, bases_dir, module, path):
    (bases_dir / "linux" / BASE_INFO).unlink()
    problem = assert_problem(client.get(path, headers=bearer(module["token"])), 404, code="no_base_agent")
    assert BASE_INFO in problem["detail"] and "sosqueue build-base" in problem["detail"]
    assert str(bases_dir) not in problem["detail"]


@pytest.mark.parametrize("path", [f"{UPDATES_PATH}/macos", f"{UPDATES_PATH}/macos/file"])
def test_macos_bundles_are_not_offered(client, bases_dir, module, path):
    bundle = bases_dir / "macos" / base_file_name(Platform.MACOS)
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    (bundle.parent / BASE_INFO).write_text(base_info("0.1.0"), encoding="utf-8")
    problem = assert_problem(client.get(path, headers=bearer(module["token"])), 404, code="update_not_offered")
    assert "macOS" in problem["detail"]


@pytest.mark.parametrize("path", [f"{UPDATES_PATH}/solaris", f"{UPDATES_PATH}/solaris/file"])
def test_an_unknown_platform_is_a_validation_problem(client, module, path):
    assert_problem(client.get(path, headers=bearer(module["token"])), 422, code="invalid_request")


def test_a_rebuilt_base_gets_a_new_offer(client, bases_dir, module):
    before = current_offer(client, module["token"])
    rebuilt = FAKE_LINUX_BASE[:-1] + b"\x01"  # the same size: only the modification time tells them apart
    base = put_server_base(bases_dir, "linux", rebuilt, version="0.2.0")
    os.utime(base, ns=(base.stat().st_atime_ns, base.stat().st_mtime_ns + 1_000_000_000))
    after = current_offer(client, module["token"])
    after.verify(module["update_key"])
    assert (after.version, after.sha256, after.size) == ("0.2.0", hashlib.sha256(rebuilt).hexdigest(), before.size)
    assert after.sha256 != before.sha256
    assert client.get(FILE, headers=bearer(module["token"])).content == rebuilt


def test_an_unchanged_base_is_not_hashed_again(client, bases_dir, module):
    """The hash is kept per path, modification time and size: bytes changed behind both are not seen."""
    before = current_offer(client, module["token"])
    base = bases_dir / "linux" / base_file_name(Platform.LINUX)
    status = base.stat()
    base.write_bytes(FAKE_LINUX_BASE[:-1] + b"\x01")
    os.utime(base, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert current_offer(client, module["token"]).sha256 == before.sha256


def test_processes_with_the_same_secret_share_the_update_key_and_others_do_not(
        client, database_url, bases_dir, tenant, module):
    with in_process(database_url, bases_dir=bases_dir, secret_key=SECRET) as second:
        same = second.get(f"{MODULES}/{module['id']}/token", headers=bearer(tenant.admin_token)).json()
        current_offer(second, module["token"]).verify(module["update_key"])
    with in_process(database_url, bases_dir=bases_dir, secret_key=OTHER_SECRET) as other:
        rotated = other.post(f"{MODULES}/{module['id']}/rotate-token", headers=bearer(tenant.admin_token)).json()
        foreign = current_offer(other, rotated["token"])
    assert same["update_key"] == module["update_key"] != rotated["update_key"]
    foreign.verify(rotated["update_key"])
    with pytest.raises(BadOffer):
        foreign.verify(module["update_key"])


def test_the_server_names_the_agent_it_offers_when_it_starts(database_url, bases_dir, caplog):
    with caplog.at_level(logging.INFO, logger="sosqueue.updates"):
        with in_process(database_url, bases_dir=bases_dir, secret_key=SECRET):
            pass
    assert "agent 0.1.0 for Linux offered to modules" in [record.getMessage() for record in caplog.records]
