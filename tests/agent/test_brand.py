"""The agent takes its module's new brand from the queue: checked, cached and applied; what it cannot
trust, a broken download or an unreachable queue leave the last good brand in force.

The bad cases run against a stand-in of the queue's brand routes that signs with a key of its own
(so that a test can tamper with what it sends); the good case ends in a real queue on PostgreSQL,
where an admin changes the logo and the real help window, open on Xvfb, shows it.
"""

import dataclasses
import hashlib
import io
import json
import logging
import time

import pytest
import requests
from PIL import Image

from agent.app import HelpApp
from agent.brand import BrandCache, BrandChecks, BrandRefresher, brand_at_start, cache_dir
from agent.client import PROBLEM_TYPE, QueueClient
from sosqueue import signing, updates
from sosqueue.brand_refresh import ASSETS_PATH, BRAND_PATH, BrandManifest, manifest_for
from agent.runtime import make_desk
from sosqueue.module_config import Brand, Options
from tests.agent.ui.support import display, pump, tk_root  # noqa: F401  (fixtures)
from tests.support.modules import branded_assets, module_config
from tests.support.polling import eventually
from tests.support.servers import shared_server
from tests.support.standin import Answer, QueueStandIn
from tests.support.tenants import make_tenant

MODULE_ID = "acme-help"
NEW_PRIMARY = "#1A7F37"
CHANGED = "banner.png"  # the one file the new primary colour changes (the logo is the default one)
log = logging.getLogger(__name__)


class BrandServer(QueueStandIn):
    """``GET {BRAND_PATH}`` and ``…/assets/<name>`` as the queue answers them, with knobs for the bad cases."""

    def __init__(self):
        super().__init__()
        self.manifest_body = b""
        self.etag = ""
        self.assets: dict[str, bytes] = {}
        self.cut_asset_at: int | None = None  # send only this many bytes of each file, with its full length

    def serve(self, version: int, *, primary: str = NEW_PRIMARY, module_id: str = MODULE_ID,
              **changes) -> BrandManifest:
        """Serve brand ``version`` in ``primary``, signed for ``module_id``; ``changes`` are made after signing."""
        self.assets = dict(branded_assets("Acme Corp", "Acme Help", primary, Brand.accent))
        manifest = manifest_for(module_id, version, Brand(company="Acme Corp", product="Acme Help", primary=primary),
                                Options(), self.assets).signed(self.private_key)
        manifest = dataclasses.replace(manifest, **changes)
        self.manifest_body = json.dumps(manifest.to_json()).encode()
        self.etag = f'"{version}-{hashlib.sha256(self.manifest_body).hexdigest()[:8]}"'
        return manifest

    def asset_requests(self) -> list[str]:
        return [path for path, _ in self.requests if path.startswith(ASSETS_PATH)]

    def answer(self, path: str, headers) -> Answer:
        path = path.partition("?")[0]
        if path == BRAND_PATH and headers.get("If-None-Match") == self.etag:
            return Answer(304, "application/json", b"")
        if path == BRAND_PATH:
            return Answer(200, "application/json", self.manifest_body, etag=self.etag)
        name = path.removeprefix(ASSETS_PATH + "/")
        if name in self.assets:
            return Answer(200, "image/png", self.assets[name], cut_at=self.cut_asset_at)
        return Answer(404, PROBLEM_TYPE, b'{"detail": "no such file"}')


@pytest.fixture
def brand_server():
    server = BrandServer()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def agent_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SOSQUEUE_AGENT_HOME", str(tmp_path / "agent-home"))


def stamped(server_url: str, update_key: str, **changes):
    """The module as stamped: the default blue brand, version 1."""
    config = module_config(server_url=server_url, module_id=MODULE_ID, module_token="sqm_module-token-secret")
    return dataclasses.replace(config, update_key=update_key, brand_version=1, **changes)


def refresher_for(config, applied: list | None = None) -> BrandRefresher:
    return BrandRefresher(config, QueueClient(config), cache=BrandCache(cache_dir(config.module_id)),
                          on_brand=(applied if applied is not None else []).append)


def logo_sha256(config) -> str:
    return hashlib.sha256(config.assets["logo.png"]).hexdigest()


@pytest.fixture
def served(brand_server) -> BrandManifest:
    """The stand-in serves brand version 2 (green)."""
    return brand_server.serve(2)


@pytest.fixture
def config(brand_server):
    return stamped(brand_server.url, brand_server.public_key)


def test_a_newer_brand_is_fetched_verified_cached_and_applied(brand_server, served, config, caplog):
    """Version 2 in force: its colour, files and version, everything else as stamped; cached; the app told once."""
    caplog.set_level(logging.INFO, logger="sosqueue.agent.brand")
    applied = []
    refreshed = refresher_for(config, applied).check()
    assert refreshed is not None and applied == [refreshed]
    assert (refreshed.brand.primary, refreshed.brand_version) == (NEW_PRIMARY, 2)
    assert logo_sha256(refreshed) == served.assets["logo.png"].sha256
    assert (refreshed.module_token, refreshed.update_key, refreshed.server_url) == (
        config.module_token, config.update_key, config.server_url)
    assert (cache_dir(MODULE_ID) / "manifest.json").is_file()
    assert "brand version 2 in force (was 1)" in caplog.text


def test_only_files_that_differ_are_downloaded(brand_server, config):
    """The same brand in another version: nothing to download, every file's hash is the one in force."""
    brand_server.serve(2, primary=config.brand.primary)
    refreshed = refresher_for(config).check()
    assert refreshed is not None and refreshed.brand_version == 2
    assert brand_server.asset_requests() == []


def test_an_unchanged_brand_is_asked_for_with_its_etag_and_costs_a_304(brand_server, served, config):
    refresher = refresher_for(config)
    assert refresher.check() is not None
    downloads = len(brand_server.asset_requests())
    assert refresher.check() is None
    assert len(brand_server.asset_requests()) == downloads


def test_an_older_or_the_same_version_changes_nothing(brand_server, config):
    brand_server.serve(1)
    assert refresher_for(config).check() is None
    assert brand_server.asset_requests() == []


def test_the_module_token_goes_in_a_header_never_in_a_url(brand_server, served, config):
    refresher_for(config).check()
    assert all(config.module_token not in path for path, _ in brand_server.requests)
    assert {authorization for _, authorization in brand_server.requests} == {f"Bearer {config.module_token}"}


def assert_last_good_brand_stays(refresher: BrandRefresher, config, caplog, reason: str) -> None:
    """Nothing applied, nothing cached, the stamped brand in force, and one log line saying why."""
    caplog.set_level(logging.INFO, logger="sosqueue.agent.brand")
    assert refresher.check() is None
    assert refresher.config == config
    assert not (cache_dir(MODULE_ID) / "manifest.json").exists()
    lines = [record.getMessage() for record in caplog.records if record.name == "sosqueue.agent.brand"]
    assert len(lines) == 1 and reason in lines[0] and "the brand in force stays (version 1)" in lines[0], lines
    assert all(record.exc_info is None for record in caplog.records)
    assert config.module_token not in caplog.text


def test_a_tampered_manifest_is_refused_before_any_file_is_fetched(brand_server, config, caplog):
    """Another product name after signing: the signature fails, no file is downloaded."""
    brand_server.serve(2, brand={**dataclasses.asdict(Brand(company="Acme Corp", product="Evil Help"))})
    assert_last_good_brand_stays(refresher_for(config), config, caplog, "signature does not match")
    assert brand_server.asset_requests() == []


def test_a_brand_signed_for_another_module_is_refused(brand_server, config, caplog):
    brand_server.serve(2, module_id="other-help")
    assert_last_good_brand_stays(refresher_for(config), config, caplog, "module other-help's")


def test_a_brand_from_another_queue_is_refused(brand_server, served, caplog):
    other_key = updates.encode_key(signing.public_key(signing.generate_private_key()))
    config = stamped(brand_server.url, other_key)
    assert_last_good_brand_stays(refresher_for(config), config, caplog, "signature does not match")


def test_a_file_with_another_hash_is_refused(brand_server, served, config, caplog):
    """The banner's bytes changed on the way (same size): its SHA-256 is not the signed one."""
    banner = brand_server.assets[CHANGED]
    brand_server.assets[CHANGED] = bytes([banner[0] ^ 1]) + banner[1:]
    assert_last_good_brand_stays(refresher_for(config), config, caplog, f"{CHANGED} does not match the brand's SHA-256")


def test_a_file_larger_than_signed_is_cut_and_refused(brand_server, served, config, caplog):
    brand_server.assets[CHANGED] += b"more bytes than signed"
    assert_last_good_brand_stays(refresher_for(config), config, caplog, f"{CHANGED} has")


def test_a_half_downloaded_file_is_refused(brand_server, served, config, caplog):
    """The connection drops halfway through each file."""
    brand_server.cut_asset_at = 100
    assert_last_good_brand_stays(refresher_for(config), config, caplog, "broke off")


def test_an_unreachable_queue_leaves_the_brand_and_says_so(config, caplog):
    gone = stamped("http://127.0.0.1:9", config.update_key)
    assert_last_good_brand_stays(refresher_for(gone), gone, caplog, "cannot be reached")


def test_the_same_problem_is_logged_once_not_at_every_check(brand_server, config, caplog):
    caplog.set_level(logging.INFO, logger="sosqueue.agent.brand")
    brand_server.serve(2, module_id="other-help")
    refresher = refresher_for(config)
    for _ in range(3):
        refresher.check()
    assert sum(record.levelno >= logging.INFO for record in caplog.records if "no brand refresh" in
               record.getMessage()) == 1


def test_a_module_without_its_queues_key_does_not_ask(brand_server, served, config):
    assert refresher_for(dataclasses.replace(config, update_key="")).check() is None
    assert brand_server.requests == []


def test_the_cached_brand_is_used_at_the_next_start(brand_server, served, config):
    """Refreshed once; the next start begins in version 2 without asking the queue."""
    refreshed = refresher_for(config).check()
    brand_server.stop()
    started = brand_at_start(config)
    assert started == refreshed


def test_a_cached_brand_no_newer_than_the_stamped_one_is_not_used(brand_server, served, config):
    refresher_for(config).check()
    restamped = dataclasses.replace(config, brand_version=2)
    assert brand_at_start(restamped) is restamped


@pytest.mark.parametrize("damage", ["a file", "the manifest", "the signature"])
def test_a_damaged_cache_is_ignored_and_logged(brand_server, served, config, caplog, damage):
    """A changed file, a cut manifest or a manifest re-signed by someone else: the stamped brand, and why."""
    refresher_for(config).check()
    folder = cache_dir(MODULE_ID)
    if damage == "a file":
        cached = folder / "files" / served.assets[CHANGED].sha256
        cached.write_bytes(cached.read_bytes()[:-1] + b"X")
    elif damage == "the manifest":
        (folder / "manifest.json").write_bytes((folder / "manifest.json").read_bytes()[:50])
    else:
        forged = dataclasses.replace(served, version=9).signed(signing.generate_private_key())
        (folder / "manifest.json").write_text(json.dumps(forged.to_json()))
    caplog.set_level(logging.INFO, logger="sosqueue.agent.brand")
    assert brand_at_start(config) is config
    assert "the cached brand in" in caplog.text and "is damaged" in caplog.text


def test_checks_run_at_start_when_woken_and_on_the_interval_only_while_polling():
    """At start once; hidden window: only a wake (a reconnect) asks again; shown window: every interval."""
    calls = []
    checks = BrandChecks(lambda: calls.append(time.monotonic()), interval=0.05)
    checks.start()
    try:
        eventually(lambda: len(calls) == 1, what="the check at start")
        time.sleep(0.3)
        assert len(calls) == 1
        checks.wake()
        eventually(lambda: len(calls) == 2, what="the check when woken")
        checks.poll(True)
        eventually(lambda: len(calls) >= 5, what="checks on the interval")
    finally:
        checks.stop()
        checks.join(2)


def test_the_tray_shows_the_new_brands_picture():
    """After apply_brand the tray's picture is the new tray-idle.png, not the cached old one."""
    from agent.tray import TrayActions
    from agent.tray._dummy import DummyTray

    def picture(colour) -> bytes:
        encoded = io.BytesIO()
        Image.new("RGBA", (64, 64), colour).save(encoded, "PNG")
        return encoded.getvalue()

    old = stamped("https://queue.example", "")
    old = dataclasses.replace(old, assets={**old.assets, "tray-idle.png": picture((0, 0, 255, 255))})
    tray = DummyTray(old, TrayActions(*[lambda: None] * 5))
    tray.start()
    assert tray.picture().getpixel((32, 32)) == (0, 0, 255, 255)
    tray.apply_brand(dataclasses.replace(old, assets={**old.assets, "tray-idle.png": picture((0, 200, 0, 255))}))
    assert tray.picture().getpixel((32, 32)) == (0, 200, 0, 255)
    tray.stop()


# -- a running agent and a real queue ------------------------------------------------------------

FAST_POLL_SECONDS = 2.0
RED = (200, 30, 30)


@pytest.fixture(scope="module")
def postgres_queue(request):
    """A real queue on PostgreSQL, shared with other test files; tests keep apart by tenant."""
    return shared_server(request, "postgresql")


@pytest.fixture
def registered(postgres_queue):
    """A company on the queue, and its module's fresh token with the queue's update key."""
    tenant = make_tenant(postgres_queue.database_url)
    response = requests.post(f"{postgres_queue.url}/api/v1/modules/{tenant.module_id}/rotate-token", timeout=20,
                             headers={"Authorization": f"Bearer {tenant.admin_token}"})
    assert response.status_code == 200, response.text
    return tenant, response.json()


def red_logo() -> bytes:
    encoded = io.BytesIO()
    Image.new("RGBA", (256, 256), (*RED, 255)).save(encoded, "PNG")
    return encoded.getvalue()


def served_logo_sha256(queue_url: str, token: str) -> str:
    response = requests.get(f"{queue_url}{BRAND_PATH}", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert response.status_code == 200, response.text
    return BrandManifest.from_json(response.json()).assets["logo.png"].sha256


def banner_logo_colour(window) -> tuple[int, int, int]:
    """The colour the window's banner shows in the middle of its logo card (``branding.render``'s banner:
    the card is a square as high as the banner less 32 pixels, 16 from its top and left)."""
    image = next(child.cget("image") for child in window.banner.winfo_children() if child.cget("image"))
    height = int(window.root.tk.call("image", "height", image))
    return tuple(int(part) for part in window.root.tk.splitlist(window.root.tk.call(image, "get", height // 2,
                                                                                      height // 2)))


def test_a_logo_changed_on_the_queue_shows_in_the_open_window_within_a_minute(tk_root, postgres_queue, registered,
                                                                              monkeypatch):
    """The real HelpApp with its window open; an admin PUTs a red logo; the logo in the window's banner turns red."""
    monkeypatch.setenv("SOSQUEUE_TRAY", "dummy")
    tenant, module = registered
    config = dataclasses.replace(
        module_config(server_url=postgres_queue.url, module_id=module["id"], module_token=module["token"]),
        update_key=module["update_key"])
    app = HelpApp(tk_root, config, make_desk(config), brand_poll_seconds=FAST_POLL_SECONDS)
    seen = {}

    def script():
        try:
            pump(tk_root, lambda: app.window.is_visible() and app.config.brand_version == 0, what="the open window")
            started = time.monotonic()
            response = requests.put(f"{postgres_queue.url}/api/v1/modules/{module['id']}/brand/logo",
                                    data=red_logo(), headers={"Authorization": f"Bearer {tenant.admin_token}"},
                                    timeout=20)
            assert response.status_code == 200, response.text
            expected = served_logo_sha256(postgres_queue.url, module["token"])
            pump(tk_root, lambda: logo_sha256(app.window.config) == expected, timeout=60,
                 what="the new logo in the window")
            seen["seconds"] = time.monotonic() - started
            seen["version"] = (app.config.brand_version, response.json()["version"])
            seen["colour"] = banner_logo_colour(app.window)
        except BaseException as error:  # Tk swallows errors of its callbacks: hand it to the test
            seen["error"] = error
        finally:
            app.quit()

    tk_root.after(300, script)
    assert app.run("open") == 0
    if "error" in seen:
        raise seen["error"]
    log.info("the new logo showed %.1f s after the admin's PUT (poll every %.0f s)", seen["seconds"],
             FAST_POLL_SECONDS)
    assert seen["seconds"] < 60
    assert seen["version"][0] == seen["version"][1]
    assert all(abs(shown - wanted) < 40 for shown, wanted in zip(seen["colour"], RED)), seen["colour"]
