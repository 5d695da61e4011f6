"""The brand refresh contract: the signed manifest, its strict parsing, and applying it to a module's config."""

import dataclasses
import hashlib
import json

import pytest

from sosqueue import signing, updates
from sosqueue.brand_refresh import (MAX_ASSET_BYTES, MAX_MANIFEST_BYTES, AssetInfo, BadManifest, BrandManifest,
                                    apply_manifest, check_asset, manifest_for)
from sosqueue.module_config import Brand, ModuleConfig, Options, parse, to_json
from sosqueue.payload import Payload
from sosqueue.updates import Offer

PRIVATE_KEY = bytes(range(32))
PUBLIC_KEY = updates.encode_key(signing.public_key(PRIVATE_KEY))
OTHER_KEY = updates.encode_key(signing.public_key(bytes(32)))
MODULE_ID = "acme-help"
ASSETS = {"logo.png": b"new logo", "banner.png": b"new banner", "tray-idle.png": b"new tray"}


def stamped_config(**changes) -> ModuleConfig:
    config = ModuleConfig(module_id=MODULE_ID, module_token="sqm_token", server_url="https://queue.example",
                          brand=Brand(company="Acme", product="Acme Help"), ca_bundle=b"PEM",
                          assets={"logo.png": b"old logo", "app.ico": b"old icon", "ca.pem": b"PEM"},
                          update_key=PUBLIC_KEY, brand_version=2)
    return dataclasses.replace(config, **changes)


def manifest(version: int = 3, module_id: str = MODULE_ID, assets: dict = ASSETS) -> BrandManifest:
    brand = Brand(company="Acme", product="Acme Desk", primary="#1A7F37", texts={"de": {"welcome": "Hallo"}})
    return manifest_for(module_id, version, brand, Options(file_immediately=True), assets).signed(PRIVATE_KEY)


def round_trip(signed: BrandManifest) -> BrandManifest:
    return BrandManifest.from_bytes(json.dumps(signed.to_json()).encode())


def test_a_signed_manifest_verifies_after_the_trip_through_json():
    """What the server signs and sends is what the module verifies."""
    round_trip(manifest()).verify(PUBLIC_KEY, module_id=MODULE_ID)


@pytest.mark.parametrize("change", [
    {"version": 4}, {"module_id": "other"}, {"brand": {"company": "Evil", "product": "Acme Desk"}},
    {"options": {"file_immediately": False}},
    {"assets": {**manifest().assets, "logo.png": AssetInfo("0" * 64, 8)}},
    {"assets": {**manifest().assets, "logo.png": AssetInfo(manifest().assets["logo.png"].sha256, 9)}},
])
def test_a_change_to_any_signed_field_breaks_the_signature(change):
    """Version, module, brand, options, an asset's hash or size: each is signed."""
    tampered = dataclasses.replace(manifest(), **change)
    with pytest.raises(BadManifest, match="signature does not match"):
        tampered.verify(PUBLIC_KEY, module_id=tampered.module_id)


def test_another_servers_key_does_not_verify():
    with pytest.raises(BadManifest, match="signature"):
        manifest().verify(OTHER_KEY, module_id=MODULE_ID)


def test_one_modules_brand_is_refused_by_another_module():
    """Signed for acme-help, replayed to other-help: refused although the signature is the server's."""
    with pytest.raises(BadManifest, match="module acme-help's, not this module's"):
        manifest().verify(PUBLIC_KEY, module_id="other-help")


def test_an_update_offers_signature_is_no_brands_signature():
    """The headers differ: a signature the server made for one kind never passes as the other."""
    signed = manifest()
    offer_signature = Offer("linux", "1.0.0", "a" * 64, 1).signed(PRIVATE_KEY).signature
    with pytest.raises(BadManifest):
        dataclasses.replace(signed, signature=offer_signature).verify(PUBLIC_KEY, module_id=MODULE_ID)


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not JSON"),
    (b"[]", "malformed"),
    (b"{}", "malformed"),
    (b" " * (MAX_MANIFEST_BYTES + 1), "larger than"),
])
def test_a_body_that_is_no_manifest_is_refused(body, reason):
    with pytest.raises(BadManifest, match=reason):
        BrandManifest.from_bytes(body)


@pytest.mark.parametrize("field, value, reason", [
    ("assets", {"../evil.png": {"sha256": "0" * 64, "size": 1}}, "unknown asset"),
    ("assets", {"ca.pem": {"sha256": "0" * 64, "size": 1}}, "unknown asset"),
    ("assets", {"logo.png": {"sha256": "XYZ", "size": 1}}, "SHA-256"),
    ("assets", {"logo.png": {"sha256": "0" * 64, "size": MAX_ASSET_BYTES + 1}}, "impossible size"),
    ("assets", {"logo.png": {"sha256": "0" * 64, "size": 0}}, "impossible size"),
    ("assets", {"logo.png": {"sha256": "0" * 64, "size": True}}, "impossible size"),
    ("version", -1, "negative"),
    ("version", "3", "whole number"),
    ("module_id", "../x", "plain identifier"),
    ("brand", {"company": "Acme", "product": "P", "language": "fr"}, "unknown language"),
    ("brand", {"company": "Acme", "product": "P", "evil": "x"}, "evil"),
    ("options", {"autostart": "yes"}, "true or false"),
    ("signature", 5, "signature"),
])
def test_a_malformed_field_is_refused_with_a_reason(field, value, reason):
    data = {**manifest().to_json(), field: value}
    with pytest.raises(BadManifest, match=reason):
        BrandManifest.from_json(data)


def test_applying_takes_brand_options_assets_and_version_and_keeps_the_rest():
    """The new brand in force; id, token, server, CA bundle (ca.pem) and key are the stamped ones."""
    applied = apply_manifest(stamped_config(), manifest(), ASSETS)
    assert (applied.brand.product, applied.brand.primary, applied.brand.text("welcome", "de")) == (
        "Acme Desk", "#1A7F37", "Hallo")
    assert applied.options.file_immediately and applied.brand_version == 3
    assert applied.assets == {**ASSETS, "ca.pem": b"PEM"}  # the old app.ico is not part of the new brand
    assert (applied.module_token, applied.ca_bundle, applied.update_key) == ("sqm_token", b"PEM", PUBLIC_KEY)


@pytest.mark.parametrize("assets, reason", [
    ({**ASSETS, "logo.png": b"new lo"}, "logo.png has 6 bytes, not the 8"),
    ({**ASSETS, "logo.png": b"new LOGO"}, "SHA-256"),
    ({name: data for name, data in ASSETS.items() if name != "banner.png"}, "banner.png has 0 bytes"),
])
def test_an_asset_that_is_not_the_signed_one_is_refused(assets, reason):
    """A truncated, changed or missing file stops the whole brand."""
    with pytest.raises(BadManifest, match=reason):
        apply_manifest(stamped_config(), manifest(), assets)


def test_an_asset_the_manifest_does_not_name_is_refused():
    with pytest.raises(BadManifest, match="no asset"):
        check_asset(manifest(), "sos.png", b"x")


def test_the_brand_version_is_stamped_and_read_back():
    """[module] brand_version goes into the module's JSON, is left out when 0, and is checked."""
    config = stamped_config(brand_version=7)
    assert parse(Payload(config=to_json(config), assets=config.assets)).brand_version == 7
    assert "brand_version" not in to_json(stamped_config(brand_version=0))["module"]
    assert parse(Payload(config=to_json(stamped_config(brand_version=0)), assets={})).brand_version == 0
    assert config.redacted()["module"]["brand_version"] == 7
    assert "brand_version" not in stamped_config(brand_version=0).redacted()["module"]


@pytest.mark.parametrize("value", [-1, "7", 1.5, True])
def test_a_malformed_brand_version_means_a_damaged_module(value):
    from sosqueue.payload import DamagedPayload

    data = to_json(stamped_config())
    data["module"]["brand_version"] = value
    with pytest.raises(DamagedPayload):
        parse(Payload(config=data, assets={}))


def test_the_manifest_names_each_asset_by_its_sha256_and_size():
    assert manifest().assets["logo.png"] == AssetInfo(hashlib.sha256(b"new logo").hexdigest(), 8)
