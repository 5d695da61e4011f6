"""Stamping: the payload goes onto a copy of the base, atomically, and the base stays as it was."""

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from sosqueue import module_config
from sosqueue import payload
from sosqueue.errors import BaseError, ChangedModuleError, NotAModuleError, OutputError
from builder.module_config import parse
from builder.stamping import build_payload, inspect_module, stamp_module
from tests.builder.conftest import new_update_key

TOKEN = "mod_0123456789abcdef"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def make_spec(tmp_path: Path, **brand):
    data = {
        "module": {"id": "mod-1", "token": TOKEN},
        "server": {"url": "https://queue.example.com"},
        "brand": {"company": "Acme", "product": "Acme Help", **brand},
    }
    return parse(data, base_dir=tmp_path)


@pytest.fixture
def spec(tmp_path):
    return make_spec(tmp_path)


@pytest.fixture
def out_dir(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def stamp(spec, base: Path, out_dir: Path) -> Path:
    return stamp_module(spec, base=base, out_dir=out_dir, module_id=spec.module_id, module_token=spec.module_token)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def app_bundle(folder: Path) -> Path:
    bundle = folder / "sosqueue-agent.app"
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    (bundle / "Contents" / "MacOS" / "sosqueue-agent").write_bytes(b"\xcf\xfa\xed\xfe" + bytes(64))
    (bundle / "Contents" / "Info.plist").write_text("<plist/>")
    return bundle


def test_stamped_module_is_the_base_followed_by_a_readable_payload(spec, fake_base, out_dir):
    """The module starts with the base's bytes and carries the config the spec describes."""
    module = stamp(spec, fake_base, out_dir)
    assert module == out_dir / "Acme-Help"
    assert module.read_bytes().startswith(fake_base.read_bytes())
    config = module_config.parse(payload.read(module))
    assert (config.module_id, config.module_token) == ("mod-1", TOKEN)
    assert config.server_url == "https://queue.example.com"
    assert (config.brand.company, config.brand.product) == ("Acme", "Acme Help")
    assert set(module_config.ASSET_NAMES) <= set(config.assets)


def test_stamping_never_modifies_the_base(spec, fake_base, out_dir):
    """The base's bytes, mode and timestamp are the same after stamping."""
    before = (sha256(fake_base), fake_base.stat().st_mode, fake_base.stat().st_mtime_ns)
    stamp(spec, fake_base, out_dir)
    assert (sha256(fake_base), fake_base.stat().st_mode, fake_base.stat().st_mtime_ns) == before
    assert not payload.has_payload(fake_base)


def test_stamped_module_is_executable(spec, fake_base, out_dir):
    """The module can be run directly (mode 755), even when the base is not executable."""
    fake_base.chmod(0o644)
    module = stamp(spec, fake_base, out_dir)
    assert os.access(module, os.X_OK)
    assert module.stat().st_mode & 0o777 == 0o755


def test_stamping_leaves_only_the_module_in_the_output_folder(spec, fake_base, out_dir):
    """No staging file is left next to the module after a successful stamp."""
    stamp(spec, fake_base, out_dir)
    assert sorted(path.name for path in out_dir.iterdir()) == ["Acme-Help"]


def test_stamping_again_replaces_the_module(spec, tmp_path, fake_base, out_dir):
    """A second build with another brand replaces the first module whole."""
    stamp(spec, fake_base, out_dir)
    module = stamp(make_spec(tmp_path, company="Acme Two"), fake_base, out_dir)
    assert module_config.parse(payload.read(module)).brand.company == "Acme Two"
    assert sorted(path.name for path in out_dir.iterdir()) == ["Acme-Help"]


def test_failed_stamp_leaves_nothing_half_written(spec, fake_base, out_dir):
    """When the final rename fails (a folder has the module's name), the staging file is removed."""
    (out_dir / "Acme-Help").mkdir()
    with pytest.raises(OutputError, match="cannot write .*Acme-Help.*choose another --out"):
        stamp(spec, fake_base, out_dir)
    assert sorted(path.name for path in out_dir.iterdir()) == ["Acme-Help"]
    assert list((out_dir / "Acme-Help").iterdir()) == []


def test_stamped_module_is_refused_as_a_base(spec, fake_base, out_dir, tmp_path):
    """A module cannot be stamped again: it is not a base."""
    module = stamp(spec, fake_base, out_dir)
    with pytest.raises(BaseError, match="already a stamped module.*unbranded base"):
        stamp(spec, module, tmp_path)


def test_windows_base_gives_an_exe(spec, tmp_path, out_dir):
    """An MZ base is a Windows base: the module is ``<product>.exe`` with the payload appended."""
    base = tmp_path / "sosqueue-agent.exe"
    base.write_bytes(b"MZ" + bytes(1022))
    module = stamp(spec, base, out_dir)
    assert module.name == "Acme-Help.exe"
    assert payload.read(module).config["module"]["id"] == "mod-1"


def test_macos_bundle_gets_the_payload_in_its_resources(spec, tmp_path, out_dir):
    """A ``.app`` base is copied whole with the payload in Contents/Resources; the base keeps none."""
    base = app_bundle(tmp_path)
    module = stamp(spec, base, out_dir)
    assert module == out_dir / "Acme-Help.app"
    assert (module / "Contents" / "MacOS" / "sosqueue-agent").read_bytes() == \
        (base / "Contents" / "MacOS" / "sosqueue-agent").read_bytes()
    assert (module / payload.MACOS_RESOURCE).is_file()
    assert not (base / payload.MACOS_RESOURCE).exists()
    assert payload.read(module).config["brand"]["product"] == "Acme Help"
    assert sorted(path.name for path in out_dir.iterdir()) == ["Acme-Help.app"]


def test_macos_bundle_stamped_again_is_replaced(spec, tmp_path, out_dir):
    """Stamping onto an existing ``.app`` leaves one bundle with the new payload."""
    base = app_bundle(tmp_path)
    stamp(spec, base, out_dir)
    module = stamp(make_spec(tmp_path, company="Acme Two"), base, out_dir)
    assert payload.read(module).config["brand"]["company"] == "Acme Two"
    assert sorted(path.name for path in out_dir.iterdir()) == ["Acme-Help.app"]


def test_module_carries_the_sha256_of_its_base(spec, fake_base, out_dir):
    """The module knows which base it was stamped onto: the SHA-256 of the base file."""
    module = stamp(spec, fake_base, out_dir)
    assert module_config.parse(payload.read(module)).base_sha256 == sha256(fake_base)


def test_macos_bundle_module_carries_no_base_sha256(spec, tmp_path, out_dir):
    """A ``.app`` base is a folder, not one file: the module carries no base hash."""
    module = stamp(spec, app_bundle(tmp_path), out_dir)
    assert module_config.parse(payload.read(module)).base_sha256 == ""
    assert "updates" not in payload.read(module).config


def test_update_key_of_the_spec_is_stamped(spec, fake_base, out_dir):
    """The registering server's update key reaches the module as it is."""
    key = new_update_key()
    module = stamp(replace(spec, update_key=key), fake_base, out_dir)
    assert module_config.parse(payload.read(module)).update_key == key


def test_module_without_a_server_carries_no_update_key(spec, fake_base, out_dir):
    """Built without a server, a module has no key (and so never updates itself)."""
    module = stamp(spec, fake_base, out_dir)
    assert module_config.parse(payload.read(module)).update_key == ""
    assert payload.read(module).config["updates"] == {"base_sha256": sha256(fake_base)}


def test_real_module_carries_the_sha256_of_the_real_base(spec, real_base, out_dir):
    """Stamped onto the real PyInstaller base, the module carries that file's SHA-256."""
    module = stamp(spec, real_base, out_dir)
    assert module_config.parse(payload.read(module)).base_sha256 == sha256(real_base)


def test_ca_bundle_travels_as_an_asset(tmp_path):
    """A configured CA bundle is in the payload as ``ca.pem`` and the agent reads it back."""
    (tmp_path / "ca.pem").write_bytes(PEM)
    spec = parse({"module": {"id": "m", "token": TOKEN}, "server": {"url": "https://q.example.com", "ca_bundle": "ca.pem"}},
                 base_dir=tmp_path)
    built = build_payload(spec, module_id="m", module_token=TOKEN)
    assert built.assets["ca.pem"] == PEM
    assert module_config.parse(built).ca_bundle == PEM


def test_payload_of_a_registered_id_overrides_the_config(spec):
    """The id and token given to the stamp (from registration) are the ones stamped."""
    built = build_payload(spec, module_id="other", module_token="other-token-1234")
    assert built.config["module"] == {"id": "other", "token": "other-token-1234"}


def test_inspect_shows_the_config_with_tokens_redacted(spec, fake_base, out_dir):
    """``inspect_module`` verifies the checksum and never shows the whole token."""
    module = stamp(spec, fake_base, out_dir)
    shown = inspect_module(module)
    assert shown["checksum"] == "ok"
    assert shown["module"]["id"] == "mod-1"
    assert TOKEN not in repr(shown)
    assert shown["module"]["token"] == module_config.redact(TOKEN)
    assert set(module_config.ASSET_NAMES) <= set(shown["asset_sizes"])
    assert all(size > 0 for size in shown["asset_sizes"].values())


def test_inspect_refuses_a_base_without_a_payload(fake_base):
    """A base agent carries no configuration, and inspect says so."""
    with pytest.raises(NotAModuleError, match="carries no module configuration"):
        inspect_module(fake_base)


def test_inspect_refuses_a_changed_payload(spec, fake_base, out_dir):
    """One changed byte inside the payload fails the checksum while the program is intact: a changed configuration."""
    module = stamp(spec, fake_base, out_dir)
    data = bytearray(module.read_bytes())
    data[fake_base.stat().st_size + 100] ^= 0xFF
    module.write_bytes(bytes(data))
    with pytest.raises(ChangedModuleError, match="has a changed configuration: .*checksum.*build it again"):
        inspect_module(module)
