"""Platform names and the file-name rules every platform shares."""

import pytest

from sosqueue.platforms import Platform, current, executable_name, file_name, module_file_name


@pytest.mark.parametrize(("sys_platform", "platform"), [
    ("linux", Platform.LINUX), ("win32", Platform.WINDOWS), ("darwin", Platform.MACOS), ("freebsd14", Platform.LINUX),
])
def test_current_maps_sys_platform_to_the_platform_a_module_is_built_for(sys_platform, platform):
    """Windows and macOS by their sys.platform names; every other Unix desktop is served like Linux."""
    assert current(sys_platform) is platform


def test_names_that_give_no_file_name_are_refused():
    """A name of only forbidden characters cannot name a file."""
    with pytest.raises(ValueError):
        file_name('/\\:*?"<>|..')


@pytest.mark.parametrize(("name", "expected"), [
    ("Acme Support", "Acme Support"),
    ('Acme/Support: "Help"?', "AcmeSupport Help"),
    ("  Acme   Help.  ", "Acme Help"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("Grüße ✓", "Grüße ✓"),
    ("x" * 300, "x" * 100),
])
def test_file_names_are_safe_on_every_system(name, expected):
    """Forbidden characters go, spaces stay, reserved Windows names and length are handled."""
    assert file_name(name) == expected


@pytest.mark.parametrize("product, platform, name", [
    ("Acme Help", "linux", "Acme-Help"),
    ("Acme Help", "windows", "Acme-Help.exe"),
    ("Acme Help", "macos", "Acme-Help.app"),
    ("Hilfe für Müller & Söhne", "windows", "Hilfe-f-r-M-ller-S-hne.exe"),
    ("!!!", "linux", "support"),
])
def test_module_file_name_is_a_safe_slug_of_the_product(product, platform, name):
    """The module's file name is the product in ASCII letters, digits and dashes, plus the platform suffix."""
    assert module_file_name(product, platform) == name


@pytest.mark.parametrize(("platform", "name"), [
    (Platform.LINUX, "sosqueue-agent"), (Platform.WINDOWS, "sosqueue-agent.exe"), (Platform.MACOS, "sosqueue-agent.app"),
])
def test_executable_names_carry_the_platforms_suffix(platform, name):
    """Windows programs end in .exe, macOS apps are .app bundles, Linux programs have no suffix."""
    assert executable_name("sosqueue-agent", platform) == name
