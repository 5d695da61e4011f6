"""Signing with a timestamp (``--timestamp-url``, RFC 3161) for modules and MSIs, against a local
time-stamp authority (tests/support/tsa.py), and what ``sosqueue inspect`` says about signatures."""

import json
import subprocess
from pathlib import Path

import pytest

from sosqueue import payload
from sosqueue.errors import ExitCode
from tests.builder.conftest import folder_listing
from tests.builder.packaging import stamp_module, unique_product
from tests.builder.test_cli_build import REGISTERED, assert_refused, build
from tests.support.bases import minimal_pe
from tests.support.servers import free_port
from tests.support.tools import require_tool
from tests.support.tsa import TimeStampAuthority

HTTPS = {"url": '"https://queue.example.com"'}


@pytest.fixture(autouse=True)
def tools():
    require_tool("osslsigncode", "osslsigncode")
    require_tool("openssl", "openssl")


@pytest.fixture(scope="module")
def tsa(tmp_path_factory):
    with TimeStampAuthority(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


@pytest.fixture
def config(write_config) -> Path:
    return write_config(module=REGISTERED, server=HTTPS)


@pytest.fixture
def other_key(tmp_path) -> Path:
    key = tmp_path / "other.key"
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    return key


def verify(path: Path, certificate: Path, tsa: TimeStampAuthority | None = None) -> str:
    args = ["osslsigncode", "verify", "-in", path, "-CAfile", certificate]
    if tsa:
        args += ["-TSA-CAfile", tsa.ca]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Signature verification: ok" in done.stdout
    return done.stdout + done.stderr


def sign_args(code_signing, *extra) -> list:
    certificate, key = code_signing
    return ["--sign", "--sign-cert", certificate, "--sign-key", key, *extra]


def inspected(sosqueue, module: Path) -> dict:
    shown = sosqueue("inspect", module)
    assert shown.code == ExitCode.OK, shown.err
    return json.loads(shown.out)


# --- build --sign --timestamp-url ----------------------------------------------------------------


def test_timestamped_module_verifies_with_its_timestamp(sosqueue, config, windows_base, out, code_signing, tsa):
    """The signature carries the local TSA's timestamp, which osslsigncode verifies."""
    asked = tsa.requests
    outcome = build(sosqueue, config, windows_base, out, *sign_args(code_signing, "--timestamp-url", tsa.url))
    assert outcome.code == ExitCode.OK, outcome.err
    module = Path(outcome.out.strip())
    said = verify(module, code_signing[0], tsa)
    assert "Timestamp Server Signature verification: ok" in said and "Timestamp time:" in said
    assert tsa.requests == asked + 1
    assert folder_listing(out) == ["Support.exe"]
    assert payload.read(module).config["module"]["id"] == "mod-1"


def test_module_signed_without_timestamp_says_so(sosqueue, config, windows_base, out, code_signing):
    """Without --timestamp-url there is no timestamp (the signature dies with the certificate)."""
    outcome = build(sosqueue, config, windows_base, out, *sign_args(code_signing))
    assert "Timestamp is not available" in verify(Path(outcome.out.strip()), code_signing[0])


def test_unreachable_time_stamp_authority_is_one_line_and_leaves_nothing(sosqueue, config, windows_base, out,
                                                                         code_signing):
    """Nobody answers at --timestamp-url: exit 16 naming the option; no module, no staging file."""
    url = f"http://127.0.0.1:{free_port()}/tsa"
    assert_refused(build(sosqueue, config, windows_base, out, *sign_args(code_signing, "--timestamp-url", url)),
                   ExitCode.NETWORK, "time-stamp authority", url, "--timestamp-url")
    assert folder_listing(out) == []


def test_certificate_that_does_not_match_its_key_is_one_line_and_leaves_nothing(sosqueue, config, windows_base, out,
                                                                                code_signing, other_key):
    """A key of another certificate: exit 3 naming --sign-cert and --sign-key; nothing written."""
    certificate, _ = code_signing
    outcome = build(sosqueue, config, windows_base, out, "--sign", "--sign-cert", certificate, "--sign-key", other_key)
    assert_refused(outcome, ExitCode.CONFIG, "does not belong to the certificate", "--sign-cert and --sign-key")
    assert folder_listing(out) == []


@pytest.mark.parametrize("extra, fragment", [
    (["--timestamp-url", "http://127.0.0.1:1/"], "--timestamp-url is for signing"),
    (["--sign", "--timestamp-url", "ftp://tsa.example.com"], "not an http:// or https:// address"),
])
def test_timestamp_url_misuse_is_refused_before_anything_is_written(sosqueue, config, windows_base, out, code_signing,
                                                                    extra, fragment):
    certificate, key = code_signing
    signing = ["--sign-cert", certificate, "--sign-key", key] if "--sign" in extra else []
    assert_refused(build(sosqueue, config, windows_base, out, *extra, *signing), ExitCode.CONFIG, fragment)
    assert folder_listing(out) == []


# --- inspect --------------------------------------------------------------------------------


def test_inspect_shows_signer_timestamp_version_and_coverage(sosqueue, config, windows_base, out, code_signing, tsa):
    """Signed after stamping: signed by the certificate's subject, timestamped, covering the configuration."""
    outcome = build(sosqueue, config, windows_base, out, *sign_args(code_signing, "--timestamp-url", tsa.url))
    shown = inspected(sosqueue, Path(outcome.out.strip()))
    assert shown["version"] == "1.0.0"
    assert shown["signature"] == {"signed": True, "subject": "CN=sosqueue test signer", "timestamped": True,
                                  "covers_configuration": True}


def test_module_signed_after_stamping_still_verifies_its_program(sosqueue, config, windows_base, out, code_signing):
    """Signing rewrites the PE's CheckSum and certificate entry and appends the signature; the program
    part still matches the base recorded at stamping (``program: ok``), and any other changed byte does not."""
    module = Path(build(sosqueue, config, windows_base, out, *sign_args(code_signing)).out.strip())
    start, _ = payload.span(module)
    assert module.read_bytes()[:start] != windows_base.read_bytes()  # the signer changed the header
    assert inspected(sosqueue, module)["program"] == "ok"
    data = bytearray(module.read_bytes())
    data[start - 1] ^= 0xFF
    module.write_bytes(bytes(data))
    outcome = sosqueue("inspect", module)
    assert outcome.code == ExitCode.DAMAGED_MODULE
    assert "program part is not the base agent it was built on" in outcome.error_line()


def test_inspect_of_an_unsigned_module_says_unsigned(sosqueue, config, fake_base, out):
    shown = inspected(sosqueue, Path(build(sosqueue, config, fake_base, out).out.strip()))
    assert shown["signature"] == {"signed": False}


def test_signature_made_before_stamping_does_not_cover_the_configuration(sosqueue, config, out, code_signing,
                                                                         tmp_path):
    """A signed base stamped afterwards: signed, but the payload lies outside what the signature covers."""
    certificate, key = code_signing
    unsigned, signed = tmp_path / "plain.exe", tmp_path / "signed.exe"
    unsigned.write_bytes(minimal_pe())
    subprocess.run(["osslsigncode", "sign", "-certs", certificate, "-key", key, "-in", unsigned, "-out", signed],
                   check=True, capture_output=True)
    outcome = build(sosqueue, config, signed, out)
    assert outcome.code == ExitCode.OK, outcome.err
    shown = inspected(sosqueue, Path(outcome.out.strip()))
    assert shown["signature"]["signed"] is True and shown["signature"]["covers_configuration"] is False


# --- package msi --sign --------------------------------------------------------------------------


@pytest.fixture
def windows_module(tmp_path) -> Path:
    base = tmp_path / "pe" / "sosqueue-agent.exe"
    base.parent.mkdir()
    base.write_bytes(minimal_pe())
    return stamp_module(tmp_path / "modules", product=unique_product(), base=base, name="Support.exe",
                        version="2.3.4")


def package_msi(sosqueue, module: Path, out: Path, *extra):
    return sosqueue("package", "msi", "--module", module, "--out", out, *extra)


def test_msi_is_signed_with_a_timestamp_and_takes_the_modules_version(sosqueue, windows_module, out, code_signing,
                                                                      tsa):
    require_tool("wixl", "wixl")
    outcome = package_msi(sosqueue, windows_module, out, "--json", *sign_args(code_signing, "--timestamp-url", tsa.url))
    assert outcome.code == ExitCode.OK, outcome.err
    result = json.loads(outcome.out)
    assert result["version"] == "2.3.4" and result["signed"] is True
    msi = Path(result["path"])
    assert folder_listing(out) == [msi.name]
    said = verify(msi, code_signing[0], tsa)
    assert "Timestamp Server Signature verification: ok" in said


def test_msi_that_cannot_be_signed_is_not_left_behind(sosqueue, windows_module, out, code_signing, other_key):
    """A mismatched key: exit 3, and no MSI (signed or not) in --out."""
    require_tool("wixl", "wixl")
    certificate, _ = code_signing
    assert_refused(package_msi(sosqueue, windows_module, out, "--sign", "--sign-cert", certificate,
                               "--sign-key", other_key), ExitCode.CONFIG, "does not belong")
    assert folder_listing(out) == []


def test_msi_signing_options_need_sign(sosqueue, windows_module, out, tsa):
    assert_refused(package_msi(sosqueue, windows_module, out, "--timestamp-url", tsa.url), ExitCode.CONFIG, "add --sign")
    assert folder_listing(out) == []
