"""The public base class: argument and state checks before any backend hook runs."""

from pathlib import Path

import pytest

from agent.platforms import _base, _darwin, _dummy, _linux
from sosqueue.platforms import Platform
from sosqueue.updates import POLICY_FILES, BadPolicy, Policy


class HooklessDesktop(_base.Desktop):
    """Claims every capability but implements no hook."""

    HAS_SHORTCUT = HAS_MENU_ENTRY = HAS_AUTOSTART = True


@pytest.mark.parametrize("launch", [[], "agent --sos", ("",), ["  "], ["/a", 3], ["/a\x00b"], None])
def test_unusable_launch_commands_are_refused_before_anything_is_written(desktop_home, launch):
    """Empty lists, plain strings, empty programs, non-text and NUL bytes raise ValueError and write nothing."""
    desktop = _linux.Desktop("Acme")
    with pytest.raises(ValueError):
        desktop.create_sos_shortcut(launch)
    with pytest.raises(ValueError):
        desktop.create_start_menu_entry(launch)
    with pytest.raises(ValueError):
        desktop.enable_autostart(launch)
    assert desktop.created() == []
    assert not desktop_home.desktop.exists()
    assert not desktop_home.applications.exists()


@pytest.mark.parametrize("name", ["", "   ", "\n\t", "\x00"])
def test_unusable_app_names_are_refused(name):
    """A name with nothing printable in it is a ValueError."""
    with pytest.raises(ValueError):
        _dummy.Desktop(name)


@pytest.mark.parametrize(("product", "sos_name"), [
    ("Acme Support", "Acme Support SOS"), ("Acme Support SOS", "Acme Support SOS"), ("Acme sos", "Acme sos"),
    ("SOSHelp", "SOSHelp SOS"),
])
def test_sos_name_adds_sos_only_once(product, sos_name):
    """The SOS shortcut is named after the product, with "SOS" unless the product already ends with it."""
    assert _dummy.Desktop(product).sos_name == sos_name


def test_identifier_is_ascii_and_stable():
    """Identifiers are lowercase ASCII slugs; names without ASCII letters get a stable hash."""
    assert _dummy.Desktop("Acme Support — Grüße!").identifier == "sosqueue-acme-support-grue"
    cyrillic = _dummy.Desktop("Поддержка").identifier
    assert cyrillic == _dummy.Desktop("Поддержка").identifier
    assert cyrillic.isascii() and len(cyrillic) == len("sosqueue-") + 12


def test_capabilities_a_backend_lacks_raise_not_implemented():
    """Asking the dummy backend (no capabilities) for anything raises NotImplementedError."""
    desktop = _dummy.Desktop("Acme")
    for create in (desktop.create_sos_shortcut, desktop.create_start_menu_entry, desktop.enable_autostart):
        with pytest.raises(NotImplementedError):
            create(["/a"])


def test_hooks_raise_not_implemented_in_the_base_class():
    """A backend that claims a capability but lacks the hook fails loudly, recording nothing."""
    desktop = HooklessDesktop("Acme")
    with pytest.raises(NotImplementedError):
        desktop.create_sos_shortcut(["/a"])
    with pytest.raises(NotImplementedError):
        desktop.create_start_menu_entry(["/a"])
    with pytest.raises(NotImplementedError):
        desktop.enable_autostart(["/a"])
    desktop.adopt([Path("/nowhere")])
    with pytest.raises(NotImplementedError):
        desktop.remove_all()
    assert desktop.created() == [Path("/nowhere")]


def test_all_users_is_refused_where_unsupported():
    """``all_users=True`` on a backend without HAS_ALL_USERS is a ValueError."""
    with pytest.raises(ValueError, match="all users"):
        _dummy.Desktop("Acme", all_users=True)


def test_adopted_items_are_listed_once_in_order():
    """``adopt`` keeps the order and drops repeats."""
    desktop = _dummy.Desktop("Acme")
    desktop.adopt([Path("/a"), "HKEY_CURRENT_USER\\Run\\x", Path("/a")])
    assert desktop.created() == [Path("/a"), "HKEY_CURRENT_USER\\Run\\x"]


def test_write_file_replaces_atomically_with_the_given_mode(tmp_path):
    """``write_file`` creates folders, sets the mode and leaves no temporary files."""
    path = tmp_path / "a" / "b.desktop"
    _base.write_file(path, b"one", mode=0o755)
    _base.write_file(path, b"two", mode=0o700)
    assert path.read_bytes() == b"two"
    assert path.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["b.desktop"]


def test_each_backend_reads_its_platforms_policy_file():
    assert _linux.Desktop.POLICY_FILE == POLICY_FILES[Platform.LINUX]
    assert _darwin.Desktop.POLICY_FILE == POLICY_FILES[Platform.MACOS]
    assert _linux.Desktop.update_policy_source() == str(POLICY_FILES[Platform.LINUX])
    assert _dummy.Desktop.update_policy() is None


def test_a_policy_file_gives_its_mode(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[updates]\nmode = "notify"\n')
    assert _base.read_policy_file(path) is Policy.NOTIFY


def test_no_policy_file_or_no_mode_in_it_means_it_set_none(tmp_path):
    path = tmp_path / "policy.toml"
    assert _base.read_policy_file(path) is None
    path.write_text("[other]\nkey = 1\n")
    assert _base.read_policy_file(path) is None


@pytest.mark.parametrize("text", ["[updates\n", '[updates]\nmode = "never"\n'], ids=["not TOML", "unknown mode"])
def test_a_bad_policy_file_is_named_with_the_fix(tmp_path, text):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(BadPolicy, match=str(path)):
        _base.read_policy_file(path)


def test_a_policy_file_that_is_not_text_is_bad(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\xff\xfe[updates]")
    with pytest.raises(BadPolicy, match="UTF-8"):
        _base.read_policy_file(path)
