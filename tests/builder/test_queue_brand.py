"""The queue keeps the module's brand: a CLI build and a dashboard download carry the same one."""

import json
from pathlib import Path

import pytest
import requests
from PIL import Image

from builder.stamping import inspect_module
from server import downloads
from server.db import Database
from server.models import Module
from sosqueue.errors import ExitCode

BRAND = {"company": '"Acme"', "product": '"Acme Help"', "logo": '"logo.png"', "primary": '"#1A7F37"',
         "on_primary": '"#FFFFEE"',
         "welcome": '"Tell us what went wrong."', "waiting": '"Someone will be with you shortly."'}


@pytest.fixture
def server_tenant(queue_server):
    """Another company on the same queue."""
    from tests.support.tenants import make_tenant

    return make_tenant(queue_server.database_url)


@pytest.fixture
def branded_config(tmp_path, write_config) -> Path:
    """A config with a green logo, its own texts and the e-mail address required."""
    logo = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
    logo.paste((26, 127, 55, 255), (32, 32, 224, 224))
    logo.save(tmp_path / "logo.png")
    return write_config(module={"version": '""'}, brand=BRAND, options={"file_immediately": "true"},
                        sections={"options.fields": {"email": '"required"'}})


def build(sosqueue, config: Path, base: Path, out: Path, *extra):
    outcome = sosqueue("build", "--config", config, "--base", base, "--out", out, "--json", *extra)
    assert outcome.code == ExitCode.OK, outcome.err
    return json.loads(outcome.out)


def downloaded(queue_server, admin_token: str, module_id: str, base: Path) -> downloads.Download:
    """The module as the dashboard's download stamps it, onto ``base``."""
    shown = requests.get(f"{queue_server.url}/api/v1/modules/{module_id}/token", timeout=20,
                         headers={"Authorization": f"Bearer {admin_token}"}).json()
    database = Database(queue_server.database_url)
    try:
        with database.read() as session:
            spec = downloads.module_spec(session.get(Module, module_id), token=shown["token"],
                                         server_url=queue_server.url, update_key=shown["update_key"])
    finally:
        database.dispose()
    return downloads.stamp(spec, base=base, platform="linux")


def carried(module: Path) -> dict:
    """What ``sosqueue inspect`` shows of a module, without its path and token."""
    shown = inspect_module(module)
    del shown["path"], shown["module"]["token"]
    return shown


def test_a_cli_build_and_a_download_carry_the_same_brand(sosqueue, caplog, queue_server, tenant, branded_config,
                                                          fake_base, out):
    built = build(sosqueue, branded_config, fake_base, out, "--server", queue_server.url, "--token",
                  tenant.admin_token)
    assert (built["brand"], built["brand_version"]) == ("updated", 2)  # the settings, then the logo
    assert f"the queue's brand of module {built['module_id']} updated from {branded_config}" in caplog.text
    download = downloaded(queue_server, tenant.admin_token, built["module_id"], fake_base)
    try:
        from_cli, from_dashboard = carried(Path(built["path"])), carried(download.path)
    finally:
        download.remove()
    assert from_dashboard == from_cli
    assert (from_cli["brand"]["product"], from_cli["brand"]["primary"], from_cli["brand"]["on_primary"]) == (
        "Acme Help", "#1A7F37", "#FFFFEE")
    assert from_cli["options"]["fields"]["email"] == "required" and from_cli["options"]["file_immediately"]


def test_a_config_without_a_brand_builds_with_the_queues(sosqueue, caplog, queue_server, tenant, branded_config,
                                                         fake_base, out, tmp_path):
    first = build(sosqueue, branded_config, fake_base, out, "--server", queue_server.url, "--token",
                  tenant.admin_token)
    branded = carried(Path(first["path"]))
    Path(first["path"]).unlink()
    branded_config.write_text('[module]\nname = "Support"\n', encoding="utf-8")
    again = build(sosqueue, branded_config, fake_base, out, "--token", tenant.admin_token)  # the identity's server
    assert (again["brand"], again["brand_version"]) == ("queue", 2)
    assert "building with the queue's brand of module" in caplog.text
    assert carried(Path(again["path"])) == branded


def test_without_a_token_a_config_without_a_brand_is_told_it_gets_the_default(sosqueue, caplog, queue_server, tenant,
                                                                             branded_config, fake_base, out):
    build(sosqueue, branded_config, fake_base, out, "--server", queue_server.url, "--token", tenant.admin_token)
    branded_config.write_text('[module]\nname = "Support"\n', encoding="utf-8")
    again = build(sosqueue, branded_config, fake_base, out)
    assert again["brand"] == "config"
    assert "it gets the default brand; pass --token ADMIN_TOKEN" in caplog.text


def test_a_queue_without_module_brands_stops_the_build_with_what_to_do(sosqueue, write_config, fake_base, out,
                                                                      monkeypatch, stand_in):
    from http import HTTPStatus

    import requests as real_requests

    original = real_requests.request

    def without_brands(method, url, **kwargs):
        if "/brand" in url:
            response = real_requests.Response()
            response.status_code, response.reason, response._content = 404, HTTPStatus(404).phrase, b"{}"
            return response
        return original(method, url, **kwargs)

    monkeypatch.setattr(real_requests, "request", without_brands)
    outcome = sosqueue("build", "--config", write_config(), "--base", fake_base, "--out", out, "--server", stand_in.url,
                       "--token", "admin-token")
    assert outcome.code != ExitCode.OK
    assert "a queue older than module brands needs updating first" in outcome.error_line()
    assert not (out / "Support").exists()


def test_a_module_of_another_company_is_named_not_blamed_on_an_old_queue(sosqueue, queue_server, tenant, server_tenant,
                                                                         branded_config, fake_base, out):
    built = build(sosqueue, branded_config, fake_base, out, "--server", queue_server.url, "--token",
                  tenant.admin_token)
    outcome = sosqueue("build", "--config", branded_config, "--base", fake_base, "--out", out, "--token",
                       server_tenant.admin_token)
    assert outcome.code != ExitCode.OK
    line = outcome.error_line()
    assert built["module_id"] in line and "needs updating" not in line and "no module with this id" in line


def with_topics(config: Path, *topics: tuple[str, str]) -> Path:
    """``config`` with ``[[options.topics]]`` of these (label, group) appended."""
    tables = "".join(f'\n[[options.topics]]\nlabel = "{label}"\ngroup = "{group}"\n' for label, group in topics)
    config.write_text(config.read_text(encoding="utf-8") + tables, encoding="utf-8")
    return config


def test_a_build_makes_the_configs_topics_the_queues(sosqueue, queue_server, tenant, branded_config, fake_base, out):
    from tests.support.queue_api import QueueApi

    api = QueueApi(queue_server.url)
    try:
        group = api.new_group(tenant.admin_token, f"accounts-{tenant.name}")
        built = build(sosqueue, with_topics(branded_config, ("Invoices", group), ("Other", "")), fake_base, out,
                      "--server", queue_server.url, "--token", tenant.admin_token)
        shown = api.call("GET", f"/api/v1/modules/{built['module_id']}/brand", tenant.admin_token).json()
    finally:
        api.close_client()
    topics = [{"label": "Invoices", "group": group}, {"label": "Other", "group": ""}]
    assert shown["options"]["topics"] == topics
    assert list(carried(Path(built["path"]))["options"]["topics"]) == topics


def test_a_topic_naming_a_group_the_queue_lacks_stops_the_build_saying_which(sosqueue, queue_server, tenant,
                                                                            branded_config, fake_base, out):
    outcome = sosqueue("build", "--config", with_topics(branded_config, ("Invoices", "Acounts")), "--base", fake_base,
                       "--out", out, "--server", queue_server.url, "--token", tenant.admin_token)
    assert outcome.code == ExitCode.CONFIG
    assert outcome.error_line() == ("Error: the queue refused the brand: options.topics.0.group: topic 'Invoices': there is no "
                                    "group 'Acounts'; create it first (Admin → Groups), or leave the group empty for "
                                    "the module's own")
    assert not (out / "Support").exists()
