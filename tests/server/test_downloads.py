"""Module downloads without HTTP: which bases are offered, the brand, zipped bundles, failures."""

import stat
import tempfile
import zipfile

import pytest

from branding.model import DEFAULT_COMPANY, DEFAULT_PRODUCT
from server import brands, downloads, updates
from server.models import Company, Module
from sosqueue import module_config, payload
from tests.support.bases import FAKE_LINUX_BASE, put_server_base

SECRET = "downloads-test-secret-0123456789abcdef0123"


def acme_module() -> Module:
    return Module(id="m-1", name="SOS", assignment="none", group=None, company=Company(name="Acme"))


def test_only_platforms_with_a_base_agent_are_offered(tmp_path):
    (tmp_path / "windows").mkdir()
    (tmp_path / "windows" / "sosqueue-agent.exe").write_bytes(b"MZ")
    (tmp_path / "macos" / "sosqueue-agent.app").mkdir(parents=True)
    assert downloads.offered(tmp_path) == (("windows", "Windows"), ("macos", "macOS"))
    assert set(downloads.available_bases(tmp_path)) == {"windows", "macos"}


@pytest.mark.parametrize(("company", "expected"), [
    ("Acme GmbH", "Acme GmbH"),
    ('A/c\\m:e*?"<>|', "Acme"),
    ("\x00\x01", None),  # nothing printable is left: the default brand's names
])
def test_the_brand_carries_what_a_file_name_allows_of_the_company_name(company, expected):
    brand = brands.default_brand(company)
    if expected is None:
        assert (brand.company, brand.product) == (DEFAULT_COMPANY, DEFAULT_PRODUCT)
    else:
        assert brand.company == brand.product == expected


def test_a_bundle_is_zipped_with_its_symlinks_and_executable_bits(tmp_path):
    bundle = tmp_path / "Agent.app"
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    program = bundle / "Contents" / "MacOS" / "agent"
    program.write_bytes(b"#!/bin/sh\n")
    program.chmod(0o755)
    (bundle / "Contents" / "Current").symlink_to("MacOS")
    with zipfile.ZipFile(downloads.zip_bundle(bundle)) as zipped:
        entries = {info.filename: info for info in zipped.infolist()}
        assert stat.S_ISLNK(entries["Agent.app/Contents/Current"].external_attr >> 16)
        assert zipped.read("Agent.app/Contents/Current") == b"MacOS"
        assert entries["Agent.app/Contents/MacOS/agent"].external_attr >> 16 & 0o111


def test_a_base_that_cannot_be_stamped_fails_cleanly_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    broken = tmp_path / "sosqueue-agent"
    broken.write_bytes(b"not an agent")
    spec = downloads.module_spec(acme_module(), token="sqm_x", server_url="https://queue.example.test",
                                 update_key=updates.public_key(SECRET))
    assert (spec.name, spec.module_token, spec.group, spec.brand.company) == ("SOS", "sqm_x", None, "Acme")
    with pytest.raises(downloads.StampFailed) as failed:
        downloads.stamp(spec, base=broken, platform="linux")
    assert failed.value.label == "Linux" and failed.value.reason
    assert list((tmp_path / "temp").iterdir()) == []


def test_a_downloaded_module_carries_the_servers_update_key(tmp_path):
    base = put_server_base(tmp_path / "bases", "linux", FAKE_LINUX_BASE)
    spec = downloads.module_spec(acme_module(), token="sqm_x", server_url="https://queue.example.test",
                                 update_key=updates.public_key(SECRET))
    made = downloads.stamp(spec, base=base, platform="linux")
    try:
        carried = module_config.parse(payload.read(made.path))
    finally:
        made.remove()
    assert (carried.module_token, carried.update_key) == ("sqm_x", updates.public_key(SECRET))


def test_a_download_carries_the_brand_the_server_keeps_for_the_module(tmp_path):
    import io
    from dataclasses import asdict

    from PIL import Image

    from server.models import ModuleBrand

    logo = io.BytesIO()
    Image.new("RGBA", (128, 128), (0, 160, 60, 255)).save(logo, "PNG")
    options = asdict(module_config.Options(file_immediately=True, fields=module_config.Fields(email="required")))
    module = acme_module()
    module.brand = ModuleBrand(settings={"company": "Acme", "product": "Acme Help", "primary": "#1A7F37",
                                         "welcome": "Hello", "on_primary": None},
                               options=options, logo_png=logo.getvalue(), version=3)
    base = put_server_base(tmp_path / "bases", "linux", FAKE_LINUX_BASE)
    made = downloads.stamp(downloads.module_spec(module, token="sqm_x", server_url="https://queue.example.test",
                                                 update_key=updates.public_key(SECRET)), base=base, platform="linux")
    try:
        carried = module_config.parse(payload.read(made.path))
    finally:
        made.remove()
    assert (carried.brand.product, carried.brand.primary, carried.brand.welcome) == ("Acme Help", "#1A7F37", "Hello")
    assert carried.options.file_immediately and carried.options.fields.email == "required"
    logo_png = Image.open(io.BytesIO(carried.assets["logo.png"])).convert("RGBA")
    assert logo_png.getpixel((logo_png.width // 2, logo_png.height // 2))[:3] == (0, 160, 60)


def test_without_a_brand_of_its_own_a_download_carries_the_default_under_the_company_name():
    spec = downloads.module_spec(acme_module(), token="sqm_x", server_url="https://queue.example.test",
                                 update_key=updates.public_key(SECRET))
    assert (spec.brand.product, spec.brand.primary, spec.options) == ("Acme", "#0B5FFF", module_config.Options())
