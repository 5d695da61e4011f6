"""Registering a module with a real queue over its API: id, token and update key back, refusals
in plain words.

The queue returns its public update key (``update_key``) in the module responses; the builder's
handling of a malformed one is checked against a small stand-in queue on loopback, since the
real queue never sends one.
"""

import httpx
import pytest

from sosqueue import updates
from sosqueue.errors import ConfigError, ExitCode, NetworkError
from builder.module_config import parse
from builder.registration import fetch, register
from tests.builder.conftest import new_update_key
from tests.support.servers import free_port
from tests.support.tenants import bearer, file_request, make_tenant



def spec_for(tmp_path, **module):
    return parse({"module": module, "server": {"url": "https://queue.example.com"},
                  "brand": {"product": "Acme Help"}}, base_dir=tmp_path)


def listed_modules(server, admin_token: str) -> dict[str, dict]:
    response = httpx.get(f"{server.url}/api/v1/modules", headers=bearer(admin_token), timeout=10)
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def test_register_returns_an_id_and_a_working_token(tmp_path, queue_server, tenant):
    """The new module is listed under the product's name and its token files requests."""
    registered = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    module_id, token = registered.module_id, registered.token
    assert registered.server == queue_server.url
    listed = listed_modules(queue_server, tenant.admin_token)[module_id]
    assert (listed["name"], listed["group"], listed["assignment"], listed["revoked"]) == ("Acme Help", None, "none", False)
    assert file_request(queue_server.url, token)["status"] == "new"


def test_register_sends_name_group_and_assignment(tmp_path, queue_server):
    """``[module]`` name, group and assignment reach the queue as written."""
    tenant = make_tenant(queue_server.database_url, supporters=2, group_members=1)
    group = next(iter(listed_modules(queue_server, tenant.admin_token).values()))["group"]
    spec = spec_for(tmp_path, name="Front desk", group=group, assignment="round_robin")
    module_id = register(spec, server=f"{queue_server.url}/", admin_token=tenant.admin_token).module_id
    listed = listed_modules(queue_server, tenant.admin_token)[module_id]
    assert (listed["name"], listed["group"], listed["assignment"]) == ("Front desk", group, "round_robin")


def test_each_registration_makes_a_new_module(tmp_path, queue_server, tenant):
    """Building twice from an unregistered config registers two modules with different tokens."""
    first = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    second = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    assert first.module_id != second.module_id and first.token != second.token


@pytest.mark.parametrize("token", ["not-a-token", ""])
def test_wrong_admin_token_is_a_config_error(tmp_path, queue_server, token):
    """A token the queue does not know: ConfigError (exit 3) naming --token."""
    with pytest.raises(ConfigError, match="refused the admin token.*--token") as raised:
        register(spec_for(tmp_path), server=queue_server.url, admin_token=token)
    assert raised.value.exit_code == ExitCode.CONFIG


def test_supporter_token_is_refused(tmp_path, queue_server, tenant):
    """Supporters cannot register modules: ConfigError asking for an admin's token."""
    with pytest.raises(ConfigError, match="pass an admin's API token"):
        register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.supporter_token)


def test_module_token_is_refused(tmp_path, queue_server, tenant):
    """A module's own token is not an admin token either."""
    with pytest.raises(ConfigError, match="refused the admin token"):
        register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.module_token)


@pytest.mark.parametrize("module, detail", [
    ({"group": "no-such-team"}, "404: there is no group 'no-such-team'"),
    ({"assignment": "bogus"}, "422: assignment: unknown assignment 'bogus'"),
    ({"assignment": "fixed:nobody@example.com"}, "404: there is no user 'nobody@example.com'"),
])
def test_refused_registration_shows_the_queues_reason(tmp_path, queue_server, tenant, module, detail):
    """A group, strategy or user the queue does not accept: exit 16 with the queue's own words."""
    with pytest.raises(NetworkError, match="refused to register the module") as raised:
        register(spec_for(tmp_path, **module), server=queue_server.url, admin_token=tenant.admin_token)
    assert detail in str(raised.value)
    assert raised.value.exit_code == ExitCode.NETWORK


def test_wrong_path_on_a_live_server_is_a_network_error(tmp_path, queue_server, tenant):
    """A URL that reaches a server but not the queue's API: exit 16 with the status."""
    with pytest.raises(NetworkError, match=r"\(404: "):
        register(spec_for(tmp_path), server=f"{queue_server.url}/not-the-queue", admin_token=tenant.admin_token)


def test_unreachable_queue_is_a_network_error(tmp_path):
    """Nobody listening: exit 16 naming the address and --server."""
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(NetworkError, match=rf"cannot reach the queue at {url} .*check --server"):
        register(spec_for(tmp_path), server=url, admin_token="t")


def test_fetch_returns_the_current_token_without_rotating(tmp_path, queue_server, tenant):
    """``--module``'s look-up: the same token the registration gave, which still files requests."""
    registered = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    fetched = fetch(registered.module_id, server=queue_server.url, admin_token=tenant.admin_token)
    assert (fetched.module_id, fetched.token) == (registered.module_id, registered.token)
    assert fetched.server == queue_server.url
    assert file_request(queue_server.url, fetched.token)["status"] == "new"


def test_register_returns_the_queues_update_key(tmp_path, queue_server, tenant):
    """The real queue's module-created response carries its public update key."""
    registered = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    assert len(updates.decode_key(registered.update_key)) == 32


def test_fetch_returns_the_same_update_key_as_the_registration(tmp_path, queue_server, tenant):
    """One queue, one key: the token look-up gives the key the registration gave."""
    registered = register(spec_for(tmp_path), server=queue_server.url, admin_token=tenant.admin_token)
    fetched = fetch(registered.module_id, server=queue_server.url, admin_token=tenant.admin_token)
    assert fetched.update_key == registered.update_key != ""


# --- the builder's part, against a stand-in queue that answers with a given update key ----------


def call_both(tmp_path, stand_in):
    return [register(spec_for(tmp_path), server=stand_in.url, admin_token="t"),
            fetch("mod-stand-in", server=stand_in.url, admin_token="t")]


def test_update_key_of_the_response_is_taken(tmp_path, stand_in):
    """A well-formed key in the creation and look-up responses comes back with the identity."""
    stand_in.extra = {"update_key": new_update_key()}
    assert [identity.update_key for identity in call_both(tmp_path, stand_in)] == [stand_in.extra["update_key"]] * 2


@pytest.mark.parametrize("extra", [{}, {"update_key": None}, {"update_key": ""}])
def test_queue_without_updates_gives_no_key(tmp_path, stand_in, extra):
    """A queue from before updates (no key, or null): the module simply has none."""
    stand_in.extra = extra
    assert [identity.update_key for identity in call_both(tmp_path, stand_in)] == ["", ""]


@pytest.mark.parametrize("key", ["not base64!", "AAAA", 42, ["x"], updates.encode_key(bytes(31))])
def test_malformed_update_key_is_refused_naming_the_queue(tmp_path, stand_in, key):
    """A key that is not a base64 32-byte public key: exit 16, one line naming the queue; after a
    registration the line also names the new module, to build it with --module."""
    stand_in.extra = {"update_key": key}
    with pytest.raises(NetworkError, match=r"^the server's update key is malformed .*" + stand_in.url) as raised:
        register(spec_for(tmp_path), server=stand_in.url, admin_token="t")
    assert raised.value.exit_code == ExitCode.NETWORK
    assert "module mod-stand-in is registered: build it with --module mod-stand-in" in str(raised.value)
    with pytest.raises(NetworkError, match="the server's update key is malformed"):
        fetch("mod-stand-in", server=stand_in.url, admin_token="t")
