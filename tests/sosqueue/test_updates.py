"""The update offer's signature and checks, which offers a module follows, base info and IT's policy."""

import dataclasses
import json

import pytest

from sosqueue import signing, updates
from sosqueue.updates import BadOffer, BadPolicy, Offer, Policy, UpdateError

SERVER_KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SHA = "ab" * 32


BUILT = "2026-12-02T05:00:00Z"


def offer(**changes) -> Offer:
    fields = {"platform": "linux", "version": "1.2.3", "sha256": SHA, "size": 20_000_000, "built": BUILT, **changes}
    return Offer(**fields).signed(SERVER_KEY)


def public(private_key: bytes) -> str:
    return updates.encode_key(signing.public_key(private_key))


def test_a_signed_offer_verifies_with_the_servers_public_key():
    offer().verify(public(SERVER_KEY))


def test_an_offer_signed_by_another_key_is_refused():
    with pytest.raises(BadOffer, match="not made by this module's server"):
        offer().verify(public(OTHER_KEY))


@pytest.mark.parametrize("field, value", [("platform", "windows"), ("version", "1.2.4"), ("sha256", "cd" * 32),
                                          ("size", 20_000_001), ("built", "2026-12-02T05:00:01Z")])
def test_changing_any_signed_field_breaks_the_signature(field, value):
    tampered = dataclasses.replace(offer(), **{field: value})
    with pytest.raises(BadOffer):
        tampered.verify(public(SERVER_KEY))


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA"])
def test_a_missing_or_malformed_signature_is_refused_not_crashed_on(signature):
    with pytest.raises(BadOffer):
        dataclasses.replace(offer(), signature=signature).verify(public(SERVER_KEY))


def test_an_offer_survives_its_json_form():
    original = offer()
    assert Offer.from_json(json.loads(json.dumps(original.to_json()))) == original


@pytest.mark.parametrize("changes, message", [
    ({"platform": "amiga"}, "malformed"),
    ({"version": "1.2"}, "X.Y.Z"),
    ({"sha256": "AB" * 32}, "SHA-256"),
    ({"size": 0}, "impossible size"),
    ({"size": updates.MAX_UPDATE_BYTES + 1}, "impossible size"),
    ({"size": True}, "impossible size"),
    ({"signature": None}, "not signed"),
    ({"built": "2026-12-02"}, "build time"),
    ({"built": 1764651600}, "build time"),
])
def test_a_malformed_offer_is_refused_with_what_is_wrong(changes, message):
    with pytest.raises(BadOffer, match=message):
        Offer.from_json({**offer().to_json(), **changes})


def test_an_offer_without_a_field_is_refused():
    data = offer().to_json()
    del data["sha256"]
    with pytest.raises(BadOffer, match="incomplete"):
        Offer.from_json(data)


def follows(offer: Offer, version: str, sha256: str = SHA, built: str = "2026-01-01T00:00:00Z") -> bool:
    return updates.is_newer_or_rebuilt(offer, running_version=version, running_base_sha256=sha256,
                                       running_base_built=built)


def test_a_module_moves_to_a_newer_version_whenever_it_was_built():
    assert follows(offer(version="1.3.0", built=""), "1.2.10", built="")


def test_a_module_never_moves_to_an_older_version_even_one_built_later():
    assert not follows(offer(version="1.2.9", sha256="cd" * 32, built="2030-01-01T00:00:00Z"), "1.2.10")


def test_a_later_build_of_the_same_version_is_followed():
    assert follows(offer(sha256="cd" * 32), "1.2.3")


def test_an_earlier_build_of_the_same_version_is_not_followed_though_the_server_signed_it():
    assert not follows(offer(sha256="cd" * 32, built="2025-12-31T23:59:59Z"), "1.2.3")


def test_a_build_of_the_same_version_is_followed_only_when_both_build_times_are_known():
    assert not follows(offer(sha256="cd" * 32), "1.2.3", built="")
    assert not follows(offer(sha256="cd" * 32, built=""), "1.2.3")


def test_the_base_a_module_runs_is_not_followed_again():
    assert not follows(offer(), "1.2.3")


def test_versions_compare_as_numbers_not_text():
    assert updates.version_tuple("1.10.0") > updates.version_tuple("1.9.9")
    with pytest.raises(ValueError):
        updates.version_tuple("1.0")


def test_the_base_info_file_gives_the_version_and_build_time_it_was_written_with(tmp_path):
    base = tmp_path / "sosqueue-agent"
    (tmp_path / updates.BASE_INFO).write_text(updates.base_info("2.0.1", built=BUILT))
    assert updates.read_base_info(base) == updates.BaseInfo("2.0.1", BUILT)


def test_a_new_base_info_file_says_it_was_built_now(tmp_path):
    (tmp_path / updates.BASE_INFO).write_text(updates.base_info("2.0.1"))
    built = updates.read_base_info(tmp_path / "sosqueue-agent").built
    assert updates.is_build_time(built) and built >= "2026-12-01T00:00:00Z"


def test_a_base_info_file_without_a_build_time_reads_as_unknown(tmp_path):
    (tmp_path / updates.BASE_INFO).write_text('{"version": "2.0.1"}')
    assert updates.read_base_info(tmp_path / "sosqueue-agent") == updates.BaseInfo("2.0.1", "")


def test_a_missing_base_info_says_how_to_make_one(tmp_path):
    with pytest.raises(UpdateError, match="sosqueue build-base"):
        updates.read_base_info(tmp_path / "sosqueue-agent")


@pytest.mark.parametrize("text", ["{}", '{"version": "latest"}', "not json", '["1.0.0"]',
                                  '{"version": "1.0.0", "built": "Tuesday"}'])
def test_a_base_info_without_a_version_or_with_a_bad_build_time_is_refused(tmp_path, text):
    (tmp_path / updates.BASE_INFO).write_text(text)
    with pytest.raises(UpdateError, match="X.Y.Z"):
        updates.read_base_info(tmp_path / "sosqueue-agent")


@pytest.mark.parametrize("text, policy", [
    ('[updates]\nmode = "off"\n', Policy.OFF),
    ('[updates]\nmode = "Notify"\n', Policy.NOTIFY),
    ('[updates]\nmode = "auto"\n', Policy.AUTO),
    ("# nothing set\n", None),
    ("[updates]\n", None),
])
def test_the_policy_file_sets_the_update_mode(text, policy):
    assert updates.parse_policy(text, source="policy.toml") == policy


@pytest.mark.parametrize("text, message", [
    ('[updates]\nmode = "sometimes"\n', 'update mode .sometimes. is not one of "auto", "notify", "off"'),
    ("[updates\n", "not a valid policy file"),
    ('updates = "off"\n', "not a valid policy file"),
])
def test_a_bad_policy_names_the_file_and_the_values_it_may_hold(text, message):
    with pytest.raises(BadPolicy, match=message) as caught:
        updates.parse_policy(text, source="/etc/sosqueue/policy.toml")
    assert str(caught.value).startswith("/etc/sosqueue/policy.toml")


def test_an_update_key_is_32_bytes_of_base64():
    key = public(SERVER_KEY)
    assert updates.decode_key(key) == signing.public_key(SERVER_KEY)
    with pytest.raises(ValueError):
        updates.decode_key(updates.encode_key(b"short"))


def test_the_package_marker_beside_the_module_makes_it_machine_wide(tmp_path):
    module = tmp_path / "Acme Help"
    assert updates.installed_by_package(module) is False
    (tmp_path / updates.PACKAGE_MARKER).write_text("{}")
    assert updates.installed_by_package(module) is True
