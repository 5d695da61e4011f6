"""The server's side of agent updates without HTTP: its key, the bases it names at start-up and on the dashboard."""

import logging

import pytest

from server import updates
from sosqueue import signing
from sosqueue.updates import BASE_INFO, Offer, base_info, decode_key
from tests.support.bases import FAKE_LINUX_BASE, put_server_base

SECRET = "server-updates-test-secret-0123456789abcdef"


def test_the_signing_key_is_derived_from_the_secret_alone():
    assert updates.signing_key(SECRET) == updates.signing_key(SECRET) != updates.signing_key(SECRET[::-1])
    assert decode_key(updates.public_key(SECRET)) == signing.public_key(updates.signing_key(SECRET))


def test_the_offer_is_signed_with_the_key_of_the_secret(tmp_path):
    put_server_base(tmp_path, "linux", FAKE_LINUX_BASE, version="1.2.3")
    offer = updates.current_offer(tmp_path, "linux", SECRET)
    Offer.from_json(offer.to_json()).verify(updates.public_key(SECRET))
    assert offer.version == "1.2.3"


def test_an_empty_base_is_not_offered(tmp_path):
    put_server_base(tmp_path, "linux", b"", version="1.2.3")
    with pytest.raises(updates.NoUpdate, match="sosqueue build-base"):
        updates.current_offer(tmp_path, "linux", SECRET)


def test_start_up_names_each_offered_base_and_warns_of_one_without_base_json(tmp_path, caplog):
    put_server_base(tmp_path, "linux", FAKE_LINUX_BASE, version="0.1.0")
    put_server_base(tmp_path, "windows", b"MZ" + bytes(64), version=None)
    with caplog.at_level(logging.INFO, logger="sosqueue.updates"):
        updates.log_bases(tmp_path)
    lines = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert lines[0] == (logging.INFO, "agent 0.1.0 for Linux offered to modules")
    assert lines[1][0] == logging.WARNING and "Windows" in lines[1][1] and BASE_INFO in lines[1][1]
    assert len(lines) == 2


def test_start_up_says_when_there_are_no_bases(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="sosqueue.updates"):
        updates.log_bases(tmp_path)
    assert [record.getMessage() for record in caplog.records] == [
        f"no base agents in {tmp_path}: no downloads and no agent updates; "
        "build them with `sosqueue build-base`"]


def test_the_dashboard_gets_the_version_of_each_base_that_has_one(tmp_path):
    put_server_base(tmp_path, "linux", FAKE_LINUX_BASE, version="0.3.1")
    put_server_base(tmp_path, "windows", b"MZ" + bytes(64), version=None)
    (tmp_path / "macos" / "sosqueue-agent.app").mkdir(parents=True)
    (tmp_path / "macos" / BASE_INFO).write_text(base_info("0.3.0"), encoding="utf-8")
    assert updates.base_versions(tmp_path) == {"linux": "0.3.1", "macos": "0.3.0"}
