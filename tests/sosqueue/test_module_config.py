"""The module configuration: what the builder writes, the agent reads back; anything off is damage."""

import copy
import dataclasses
import json

import pytest

from sosqueue import module_config
from sosqueue import payload
from sosqueue.module_config import Fields, parse, to_json
from sosqueue.payload import DamagedPayload, Payload
from tests.support.modules import module_config as make_config
from tests.support.modules import module_payload_for, sample_assets, write_module_file

TOKEN = "sqm_0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def config():
    return make_config(
        server_url="https://queue.example.test", module_id="mod-1", module_token=TOKEN,
        product="Acme Help", welcome="Hallo!", language="de", file_immediately=True,
        fields={"name": "required", "email": "hidden", "description": "optional"},
    )


def _parsed(data: dict, assets: dict | None = None):
    return parse(Payload(config=data, assets=dict(sample_assets()) if assets is None else assets))


def test_to_json_then_parse_gives_the_same_config(config):
    """Every field survives the builder's JSON and the agent's parser."""
    assert parse(module_payload_for(config)) == config


def test_round_trip_through_a_module_file(tmp_path):
    """A module file written by the test builder parses to the brand and options it was given."""
    path = write_module_file(tmp_path / "m.bin", server_url="https://q.example.test/", module_id="m",
                             module_token=TOKEN, company="Beta GmbH", sos_shortcut=False)
    parsed = parse(payload.read(path))
    assert parsed.brand.company == "Beta GmbH"
    assert parsed.options.sos_shortcut is False
    assert parsed.server_url == "https://q.example.test"
    assert set(parsed.assets) == set(module_config.ASSET_NAMES)


def test_defaults_apply_when_options_are_left_out(config):
    """A configuration without options gets the documented defaults."""
    data = to_json(config)
    del data["options"]
    assert _parsed(data).options == module_config.Options()
    assert _parsed(data).options.fields == Fields()


def test_custom_ca_is_read_from_the_assets(config):
    """A ``ca.pem`` asset becomes the module's CA bundle."""
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assets = {**sample_assets(), "ca.pem": pem}
    assert _parsed(to_json(config), assets).ca_bundle == pem


def test_to_json_returns_an_independent_copy(config):
    """Changing the JSON the builder got does not change the (frozen) configuration."""
    data = to_json(config)
    data["brand"]["company"] = "Changed"
    data["options"]["fields"]["name"] = "hidden"
    assert config.brand.company == "Acme Corp"
    assert config.options.fields.name == "required"


@pytest.mark.parametrize("fmt", [None, 0, 2, "1"])
def test_foreign_format_version_is_damaged(config, fmt):
    """A configuration of another format version is refused as damaged."""
    data = to_json(config)
    data["format"] = fmt
    with pytest.raises(DamagedPayload, match="format"):
        _parsed(data)


@pytest.mark.parametrize("path", [("module",), ("module", "token"), ("module", "id"), ("server",),
                                  ("server", "url"), ("brand",), ("brand", "company"), ("brand", "product")])
def test_incomplete_configuration_is_damaged(config, path):
    """A required part left out makes the module damaged, not a crash."""
    data = to_json(config)
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(DamagedPayload):
        _parsed(data)


@pytest.mark.parametrize("mutate", [
    lambda d: d["module"].update(token=12345),
    lambda d: d["module"].update(id=None),
    lambda d: d.update(module="mod-1"),
    lambda d: d["brand"].update(primary=["#fff"]),
    lambda d: d["brand"].update(slogan="extra key"),
    lambda d: d["brand"].update(language="fr"),
    lambda d: d["brand"].update(texts={"fr": {"welcome": "Bonjour"}}),
    lambda d: d["brand"].update(texts={"de": {"slogan": "Hallo"}}),
    lambda d: d["brand"].update(texts={"de": {"welcome": 5}}),
    lambda d: d["brand"].update(texts="Hallo"),
    lambda d: d["options"].update(unknown_option=True),
    lambda d: d.update(options=[]),
    lambda d: d["options"]["fields"].update(name="mandatory"),
    lambda d: d["options"]["fields"].update(phone="required"),
    lambda d: d["server"].update(url="ftp://queue.example.test"),
    lambda d: d["server"].update(url="https://"),
    lambda d: d["server"].update(url="not a url"),
    lambda d: d["server"].update(url="https://[::1"),
], ids=["token-number", "id-null", "module-text", "colour-list", "unknown-brand-key", "language-fr",
        "texts-in-french", "unknown-text", "text-number", "texts-not-a-table",
        "unknown-option", "options-list", "field-mode", "unknown-field", "ftp", "no-host", "no-scheme", "bad-ipv6"])
def test_wrong_values_are_damaged(config, mutate):
    """Wrong types, unknown keys and unusable URLs are DamagedPayload with a reason."""
    data = copy.deepcopy(to_json(config))
    mutate(data)
    with pytest.raises(DamagedPayload) as caught:
        _parsed(data)
    assert str(caught.value)


def test_plain_http_needs_allow_insecure(config):
    """An http:// server URL is refused unless the module was built to allow it."""
    data = to_json(config)
    data["server"] = {"url": "http://queue.example.test"}
    with pytest.raises(DamagedPayload, match="http://"):
        _parsed(data)
    data["server"]["allow_insecure"] = False
    with pytest.raises(DamagedPayload, match="http://"):
        _parsed(data)
    data["server"]["allow_insecure"] = True
    assert _parsed(data).server_url == "http://queue.example.test"


def test_https_url_loses_its_trailing_slash(config):
    """``https://host/`` and ``https://host`` are the same queue."""
    data = to_json(config)
    data["server"]["url"] = "https://queue.example.test/sub/"
    assert _parsed(data).server_url == "https://queue.example.test/sub"


def test_redacted_config_never_contains_the_token(config):
    """``--print-config`` output shows neither the token nor more than a hint of it."""
    shown = json.dumps(config.redacted(), ensure_ascii=False)
    assert TOKEN not in shown
    assert TOKEN[4:-2] not in shown
    assert config.redacted()["module"]["id"] == "mod-1"
    assert config.redacted()["brand"]["product"] == "Acme Help"


@pytest.mark.parametrize("token", ["", "a", "short", "12345678"])
def test_short_tokens_are_hidden_entirely(config, token):
    """A short token is not partly shown (a prefix and suffix would be most of it)."""
    from dataclasses import replace

    shown = replace(config, module_token=token).redacted()["module"]["token"]
    assert token not in shown or not token


def test_redacted_config_is_json_serialisable_and_lists_assets(config):
    """The redacted view is plain JSON with the asset names, not their bytes."""
    shown = json.loads(json.dumps(config.redacted()))
    assert shown["assets"] == sorted(module_config.ASSET_NAMES)
    assert shown["server"] == {"url": "https://queue.example.test", "custom_ca": False}


def test_version_survives_the_round_trip(config):
    """A module built from a config with a version carries it; ``redacted`` shows it."""
    versioned = dataclasses.replace(config, version="1.2.3")
    assert to_json(versioned)["module"]["version"] == "1.2.3"
    parsed = parse(module_payload_for(versioned))
    assert parsed.version == "1.2.3" and parsed.redacted()["module"]["version"] == "1.2.3"


def test_module_without_a_version_still_reads(config):
    """Modules stamped before versions have no ``module.version``: they read with an empty one."""
    data = to_json(config)
    assert "version" not in data["module"]
    parsed = _parsed(data)
    assert parsed.version == "" and parsed.redacted()["module"]["version"] is None


@pytest.mark.parametrize("version", ["1.2", "v1.2.3", "1.2.3-beta", 123])
def test_malformed_version_is_damaged(config, version):
    """A version that is not X.Y.Z means the payload was not written by the builder."""
    data = copy.deepcopy(to_json(config))
    data["module"]["version"] = version
    with pytest.raises(DamagedPayload):
        _parsed(data)


UPDATE_KEY = "A" * 43 + "="  # 32 zero bytes in base64: a well-formed key
BASE_SHA = "0f" * 32
BUILT = "2026-12-02T05:00:00Z"


def test_update_key_and_base_survive_the_round_trip(config):
    """A module built against a server carries its update key, and the SHA-256 and build time of its base."""
    updating = dataclasses.replace(config, update_key=UPDATE_KEY, base_sha256=BASE_SHA, base_built=BUILT)
    assert to_json(updating)["updates"] == {"key": UPDATE_KEY, "base_sha256": BASE_SHA, "base_built": BUILT}
    parsed = parse(module_payload_for(updating))
    assert (parsed.update_key, parsed.base_sha256, parsed.base_built) == (UPDATE_KEY, BASE_SHA, BUILT)
    assert parsed.redacted()["updates"] == {"key": UPDATE_KEY, "base_sha256": BASE_SHA, "base_built": BUILT}


def test_module_without_updates_reads_as_one_that_never_updates_itself(config):
    """Modules stamped before updates (or without a server) have no ``updates`` section."""
    data = to_json(config)
    assert "updates" not in data
    parsed = _parsed(data)
    assert (parsed.update_key, parsed.base_sha256, parsed.base_built) == ("", "", "")


@pytest.mark.parametrize("field, value", [("key", "not a key"), ("key", "AAAA"), ("key", 7),
                                          ("base_sha256", "0F" * 32), ("base_sha256", "0f" * 31),
                                          ("base_built", "yesterday"), ("base_built", "2026-12-02 05:00:00")])
def test_malformed_update_fields_are_damaged(config, field, value):
    """An update key that is no Ed25519 key, a base hash that is no SHA-256 or a build time that is none: damage."""
    updating = dataclasses.replace(config, update_key=UPDATE_KEY, base_sha256=BASE_SHA, base_built=BUILT)
    data = copy.deepcopy(to_json(updating))
    data["updates"][field] = value
    with pytest.raises(DamagedPayload):
        _parsed(data)


def test_a_brand_text_in_the_customers_language_wins_over_the_one_for_every_language():
    brand = module_config.Brand(company="Acme", product="Help", welcome="Welcome, everyone",
                                texts={"de": {"welcome": "Willkommen", "closed": "Danke"}})
    assert brand.text("welcome", "de") == "Willkommen"
    assert brand.text("welcome", "en") == "Welcome, everyone"
    assert brand.text("closed", "de") == "Danke"
    assert brand.text("closed", "en") == "", "no text of its own: the window's built-in one"
    assert brand.text("privacy", "de") == ""


def test_brand_texts_per_language_survive_the_round_trip(config):
    texted = dataclasses.replace(config, brand=dataclasses.replace(
        config.brand, texts={"en": {"privacy": "We never record."}, "de": {"waiting": "Gleich geht's los."}}))
    assert _parsed(to_json(texted)).brand.texts == texted.brand.texts
