"""One module, one id: the first build registers and keeps the id and token beside the config
(``module.identity.toml``), later builds reuse them, ``--module`` takes a module registered
before, and the stamped server is the registering one unless the config names another."""

import hashlib
import json
import stat
from pathlib import Path

import httpx
import pytest

from sosqueue import payload
from sosqueue.errors import ExitCode
from builder.registration import Identity, identity_path, read_identity, write_identity
from builder.commands import NO_UPDATE_KEY
from tests.builder.conftest import folder_listing, new_update_key, run_sosqueue
from tests.builder.test_cli_build import assert_refused, build
from tests.support.queue_api import REQUESTS
from tests.support.tenants import bearer, make_tenant

HTTPS = {"url": '"https://queue.example.com"'}


def modules_named(queue_server, tenant, name: str = "Support") -> list[dict]:
    listed = httpx.get(f"{queue_server.url}/api/v1/modules", headers=bearer(tenant.admin_token), timeout=10).json()
    return [item for item in listed["items"] if item["name"] == name]


def carried(module: Path) -> dict:
    return payload.read(module).config


def register_args(queue_server, tenant) -> list[str]:
    return ["--server", queue_server.url, "--token", tenant.admin_token]


def test_building_again_for_another_platform_and_version_reuses_the_module(
        sosqueue, caplog, write_config, fake_base, windows_base, out, queue_server, tenant):
    """Linux 1.0.0, Windows 1.0.0, Linux 1.0.1: one module in the queue, the same id in all three."""
    config = write_config()
    first = build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant), "--json")
    assert first.code == ExitCode.OK, first.err
    identity = config.with_name("module.identity.toml")
    assert json.loads(first.out)["registered"] is True and json.loads(first.out)["identity"] == str(identity)
    assert f"id and token are in {identity}" in caplog.text  # on stderr, where progress goes
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    second = build(sosqueue, config, windows_base, out, *register_args(queue_server, tenant), "--json")
    assert second.code == ExitCode.OK, second.err
    assert json.loads(second.out)["registered"] is False
    config.write_text(config.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    third = build(sosqueue, config, fake_base, out, "--json")  # no --server needed any more
    assert third.code == ExitCode.OK, third.err

    registered = modules_named(queue_server, tenant)
    assert len(registered) == 1
    ids = {carried(Path(json.loads(done.out)["path"]))["module"]["id"] for done in (first, second, third)}
    assert ids == {registered[0]["id"]}
    assert carried(out / "Support")["module"]["version"] == "1.0.1"
    assert read_identity(identity).version == "1.0.1"


def test_the_registering_server_is_stamped(sosqueue, write_config, fake_base, out, queue_server, tenant):
    """A config without ``[server] url`` files into the server it registered with, also when built again."""
    config = write_config()
    assert build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant)).code == ExitCode.OK
    assert carried(out / "Support")["server"]["url"] == queue_server.url.rstrip("/")
    assert build(sosqueue, config, fake_base, out).code == ExitCode.OK
    assert carried(out / "Support")["server"]["url"] == queue_server.url.rstrip("/")


def test_old_templates_loopback_address_is_not_deliberate(sosqueue, write_config, fake_base, out, queue_server, tenant):
    """A config that still has the old template's ``http://127.0.0.1:8765`` gets the --server address."""
    config = write_config(server={"url": '"http://127.0.0.1:8765"'})
    assert build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant)).code == ExitCode.OK
    assert carried(out / "Support")["server"]["url"] == queue_server.url.rstrip("/")


def test_another_explicit_server_url_is_refused_naming_the_fix(sosqueue, write_config, fake_base, out, queue_server,
                                                               tenant):
    """``[server] url`` other than --server: exit 3 naming both fixes; nothing registered or written."""
    config = write_config(server=HTTPS)
    line = assert_refused(build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant)),
                          ExitCode.CONFIG, "server.url = https://queue.example.com", "[server] url", "--server")
    assert queue_server.url.rstrip("/") in line
    assert folder_listing(out) == [] and not identity_path(config).exists()
    assert modules_named(queue_server, tenant) == []


def test_module_option_takes_an_existing_registration_without_rotating(sosqueue, write_config, fake_base, out,
                                                                       queue_server, tenant):
    """``--module ID`` stamps that module's current token; the token keeps working."""
    created = httpx.post(f"{queue_server.url}/api/v1/modules", json={"name": "Support"},
                         headers=bearer(tenant.admin_token), timeout=10).json()
    config = write_config()
    done = build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant), "--module", created["id"])
    assert done.code == ExitCode.OK, done.err
    brand_version = httpx.get(f"{queue_server.url}/api/v1/modules/{created['id']}/brand",
                              headers=bearer(tenant.admin_token), timeout=10).json()["version"]
    assert carried(out / "Support")["module"] == {"id": created["id"], "token": created["token"], "version": "1.0.0",
                                                  "brand_version": brand_version}
    assert read_identity(identity_path(config)).module_id == created["id"]
    assert len(modules_named(queue_server, tenant)) == 1
    filed = httpx.post(f"{queue_server.url}{REQUESTS}", json={"description": "still works"},
                       headers=bearer(created["token"]), timeout=10)
    assert filed.status_code == 201, filed.text


@pytest.mark.parametrize("which", ["another company's", "unknown", "malformed"])
def test_foreign_module_id_is_refused_in_one_line(sosqueue, write_config, fake_base, out, queue_server, tenant, which):
    """A module of another company, an unknown id or no id at all: exit 4, and nothing is written."""
    module_id = {"another company's": lambda: make_tenant(queue_server.database_url).module_id,
                 "unknown": lambda: "00000000-0000-0000-0000-000000000000",
                 "malformed": lambda: "../etc"}[which]()
    config = write_config()
    assert_refused(build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant), "--module", module_id),
                   ExitCode.NOT_FOUND, "no module", "check --module")
    assert folder_listing(out) == [] and not identity_path(config).exists()


def test_module_whose_token_cannot_be_shown_says_to_rotate(sosqueue, write_config, fake_base, out, queue_server, tenant):
    """A module with a random (underivable) token: exit 3 naming rotate-token; nothing is written."""
    config = write_config()
    assert_refused(build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant),
                         "--module", tenant.module_id), ExitCode.CONFIG, "rotate-token")
    assert folder_listing(out) == [] and not identity_path(config).exists()


def test_module_option_needs_the_server_the_first_time(sosqueue, write_config, fake_base, out):
    """``--module`` alone, with nothing kept yet: exit 3 naming --server and --token."""
    assert_refused(build(sosqueue, write_config(), fake_base, out, "--module", "abc"), ExitCode.CONFIG,
                   "--server URL")


def test_module_option_other_than_the_kept_one_is_refused(sosqueue, write_config, fake_base, out):
    """The identity file names module A, --module B: exit 3, the identity file unchanged."""
    config = write_config(server=HTTPS)
    identity = write_identity(identity_path(config), Identity("mod-a", "tok-a", "https://queue.example.com"))
    before = identity.read_bytes()
    assert_refused(build(sosqueue, config, fake_base, out, "--module", "mod-b"), ExitCode.CONFIG, "holds module mod-a",
                   "drop --module")
    assert identity.read_bytes() == before and folder_listing(out) == []


def test_kept_module_of_another_server_is_refused(sosqueue, write_config, fake_base, out, queue_server, tenant):
    """The identity file's module lives on another queue than --server: exit 3 naming both ways out."""
    config = write_config()
    write_identity(identity_path(config), Identity("mod-a", "tok-a", "https://other.example.com"))
    assert_refused(build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant)), ExitCode.CONFIG,
                   "https://other.example.com", "--server", "move module.identity.toml away")
    assert modules_named(queue_server, tenant) == []


def test_damaged_identity_file_is_refused(sosqueue, write_config, fake_base, out):
    """An identity file that is not what the builder writes: exit 3, "delete it … --module"."""
    config = write_config(server=HTTPS)
    identity_path(config).write_text("id = 3\n")
    assert_refused(build(sosqueue, config, fake_base, out), ExitCode.CONFIG, "module.identity.toml", "--module ID")
    assert folder_listing(out) == []


def test_refused_registration_writes_no_identity_file(sosqueue, write_config, fake_base, out, queue_server):
    """A registration the queue refuses leaves no identity file behind."""
    config = write_config()
    assert_refused(build(sosqueue, config, fake_base, out, "--server", queue_server.url, "--token", "nope"),
                   ExitCode.CONFIG, "--token")
    assert not identity_path(config).exists()


def test_version_going_backwards_is_refused(sosqueue, write_config, fake_base, out):
    """1.0.1 built, then 1.0.0: exit 3 naming the last version and the setting; the module stays as it was."""
    config = write_config(server=HTTPS, module={"version": '"1.0.1"'})
    write_identity(identity_path(config), Identity("mod-a", "tok-a", "https://queue.example.com"))
    assert build(sosqueue, config, fake_base, out).code == ExitCode.OK
    module_bytes = hashlib.sha256((out / "Support").read_bytes()).hexdigest()
    config.write_text(config.read_text().replace('"1.0.1"', '"1.0.0"'))
    assert_refused(build(sosqueue, config, fake_base, out), ExitCode.CONFIG, "version 1.0.0 is lower than 1.0.1",
                   "[module] version")
    assert hashlib.sha256((out / "Support").read_bytes()).hexdigest() == module_bytes
    assert read_identity(identity_path(config)).version == "1.0.1"


def test_same_version_builds_again(sosqueue, write_config, fake_base, out):
    """The same version for another platform or a rebuild is fine."""
    config = write_config(server=HTTPS)
    write_identity(identity_path(config), Identity("mod-a", "tok-a", "https://queue.example.com", version="1.0.0"))
    assert build(sosqueue, config, fake_base, out).code == ExitCode.OK


def test_identity_file_is_private_and_written_in_one_step(tmp_path):
    """Mode 0600, no temporary file left, rewritten whole; what it says reads back."""
    path = tmp_path / "module.identity.toml"
    write_identity(path, Identity("mod-a", 'tok-"a"', "https://q.example.com", "1.2.3"))
    write_identity(path, Identity("mod-a", 'tok-"a"', "https://q.example.com", "1.2.4"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert folder_listing(tmp_path) == ["module.identity.toml"]
    assert read_identity(path) == Identity("mod-a", 'tok-"a"', "https://q.example.com", "1.2.4")


def test_identity_file_sits_beside_the_config():
    assert identity_path(Path("/etc/acme/module.toml")) == Path("/etc/acme/module.identity.toml")


def test_insecure_server_option_names_the_option(sosqueue, write_config, fake_base, out):
    """``--server http://`` to another computer: exit 3 naming --server (not server.url)."""
    assert_refused(build(sosqueue, write_config(), fake_base, out, "--server", "http://queue.example.com",
                         "--token", "t"), ExitCode.CONFIG, "--server", "--allow-insecure")


def test_command_says_where_the_identity_is_on_stderr(write_config, fake_base, out, queue_server, tenant):
    """The installed command: the module's path on stdout, the identity file named on stderr."""
    config = write_config()
    done = run_sosqueue("build", "--config", config, "--base", fake_base, "--out", out,
                        *register_args(queue_server, tenant))
    assert done.code == ExitCode.OK, done.err
    assert done.out.strip() == str(out / "Support")
    assert f"id and token are in {identity_path(config)}" in done.err


# --- the queue's update key: stamped, kept beside the id, taken afresh -------------------------


def stand_in_args(stand_in) -> list[str]:
    return ["--server", stand_in.url, "--token", "admin-token"]


def test_registration_keeps_the_update_key_and_later_builds_without_the_queue_stamp_it(
        sosqueue, caplog, write_config, fake_base, out, stand_in):
    """The key the queue gave at registration is in the module and the identity file; a build
    without --server stamps it from there, and nobody is told the module will not update."""
    stand_in.extra = {"update_key": new_update_key()}
    config = write_config()
    first = build(sosqueue, config, fake_base, out, *stand_in_args(stand_in), "--json")
    assert first.code == ExitCode.OK, first.err
    assert json.loads(first.out)["update_key"] == stand_in.extra["update_key"]
    assert read_identity(identity_path(config)).update_key == stand_in.extra["update_key"]
    assert carried(out / "Support")["updates"]["key"] == stand_in.extra["update_key"]
    (out / "Support").unlink()
    assert build(sosqueue, config, fake_base, out).code == ExitCode.OK
    assert carried(out / "Support")["updates"]["key"] == stand_in.extra["update_key"]
    assert NO_UPDATE_KEY not in caplog.text


def test_build_that_contacts_the_queue_takes_its_update_key_afresh(sosqueue, write_config, fake_base, out, stand_in):
    """A module registered before updates (no key kept) gets the key by building with --server and
    --token; when the queue's key changes, the next such build stamps and keeps the new one."""
    config = write_config()
    write_identity(identity_path(config), Identity("mod-stand-in", "sqm_standintoken", stand_in.url))
    for key in (new_update_key(), new_update_key()):
        stand_in.extra = {"update_key": key}
        assert build(sosqueue, config, fake_base, out, *stand_in_args(stand_in)).code == ExitCode.OK
        assert carried(out / "Support")["updates"]["key"] == key
        assert read_identity(identity_path(config)) == Identity("mod-stand-in", "sqm_standintoken", stand_in.url,
                                                                "1.0.0", key)


def test_malformed_update_key_from_the_queue_writes_nothing(sosqueue, write_config, fake_base, out, stand_in):
    """A registration whose key is not a public key: exit 16 naming the new module for --module; no
    identity file, no module."""
    stand_in.extra = {"update_key": "bm90IGEga2V5"}
    config = write_config()
    assert_refused(build(sosqueue, config, fake_base, out, *stand_in_args(stand_in)), ExitCode.NETWORK,
                   "the server's update key is malformed", stand_in.url, "--module mod-stand-in")
    assert not identity_path(config).exists()
    assert folder_listing(out) == []


def test_malformed_update_key_in_the_identity_file_is_refused(sosqueue, write_config, fake_base, out):
    """A kept key that is not a public key: exit 3 naming the file, the line and how to take it again."""
    config = write_config(server=HTTPS)
    identity_path(config).write_text('id = "mod-a"\ntoken = "tok-a"\nupdate_key = "AAAA"\n')
    assert_refused(build(sosqueue, config, fake_base, out), ExitCode.CONFIG, "module.identity.toml",
                   "update_key is malformed", "--server URL --token ADMIN_TOKEN")
    assert folder_listing(out) == []


def test_identity_file_keeps_the_update_key_as_public(tmp_path):
    """The key reads back, and the file says it is not secret (the token is)."""
    path = tmp_path / "module.identity.toml"
    identity = Identity("mod-a", "tok-a", "https://q.example.com", "1.0.0", new_update_key())
    write_identity(path, identity)
    assert read_identity(path) == identity
    assert "public key for agent updates (not secret)" in path.read_text()


def test_registered_build_stamps_the_real_queues_update_key(sosqueue, write_config, fake_base, out, queue_server,
                                                            tenant):
    """Registered with the real queue: its update key is in the module and in the identity file."""
    config = write_config()
    assert build(sosqueue, config, fake_base, out, *register_args(queue_server, tenant)).code == ExitCode.OK
    key = carried(out / "Support").get("updates", {}).get("key", "")
    assert key and read_identity(identity_path(config)).update_key == key
