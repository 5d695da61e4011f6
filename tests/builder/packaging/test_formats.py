"""The installer formats' registry: what each format declares, and one ``sosqueue package``
command for each."""

import pytest

from sosqueue.platforms import Platform
from builder.packaging import FORMATS, package
from builder.packaging import deb, msi


def test_the_registry_has_the_deb_and_the_msi():
    """Each format declares its name, the platform of the modules it wraps, and its file suffix."""
    assert FORMATS == {"deb": deb.FORMAT, "msi": msi.FORMAT}
    assert (deb.FORMAT.platform, deb.FORMAT.suffix) == (Platform.LINUX, ".deb")
    assert (msi.FORMAT.platform, msi.FORMAT.suffix) == (Platform.WINDOWS, ".msi")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_package_has_a_command_per_format_with_the_common_options(name):
    """Every format's command takes --module, --out, --version and --json, then its own options."""
    command = package.commands[name]
    options = [parameter.name for parameter in command.params]
    assert options[:2] == ["module_path", "out_dir"] and options[-2:] == ["version", "as_json"]
    assert command.help == FORMATS[name].summary


def test_each_command_has_its_formats_options_between_the_common_ones():
    """The .deb's --autostart, --no-desktop-shortcut and --maintainer; the MSI's signing options;
    both installers' --onedir-base."""
    options = [parameter.opts for parameter in package.commands["deb"].params]
    assert options == [["--module"], ["--out"], ["--autostart"], ["--no-desktop-shortcut"], ["--maintainer"],
                       ["--onedir-base"], ["--version"], ["--json"]]
    assert [parameter.opts for parameter in package.commands["msi"].params] == [
        ["--module"], ["--out"], ["--onedir-base"], ["--sign"], ["--sign-cert"], ["--sign-key"], ["--timestamp-url"],
        ["--version"], ["--json"]]
