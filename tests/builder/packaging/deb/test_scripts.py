"""The .deb's shell scripts: the desktop-shortcuts helper as shipped in package data, linted with
shellcheck, and filled in with a package's settings."""

import subprocess
from importlib import resources

import pytest

from builder.packaging.deb.layout import Layout
from builder.packaging.deb.scripts import HELPER_SOURCE, helper_source, maintainer_scripts, shortcut_helper
from tests.support.tools import require_tool

LAYOUT = Layout(package="sosqueue-acme-help", product="Acme Help", sos_name="Acme Help SOS")
SETTINGS = ("PACKAGE", "SHORTCUT_NAME", "TEMPLATE", "STATE_DIR", "SELF", "WANTED")


def test_helper_in_package_data_is_shellcheck_clean():
    """shellcheck (as POSIX sh) finds nothing in desktop-shortcuts.sh as the package ships it."""
    shellcheck = require_tool("shellcheck", "shellcheck")
    with resources.as_file(resources.files("builder.packaging.deb").joinpath(HELPER_SOURCE)) as path:
        result = subprocess.run([shellcheck, "-s", "sh", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_helper_source_has_one_empty_line_for_each_setting():
    """The settings block the builder fills in: each setting once, empty."""
    lines = helper_source().splitlines()
    assert lines[0] == "#!/bin/sh" and "set -e" in lines
    assert [line for line in lines if line.partition("=")[0] in SETTINGS] == [f"{name}=''" for name in SETTINGS]


@pytest.mark.parametrize(("wanted", "flag"), [(True, "1"), (False, "0")])
def test_helper_gets_the_packages_settings_shell_quoted(wanted, flag):
    """Only the settings lines change: the layout's names and paths, quoted for sh."""
    expected = helper_source()
    for line in ["PACKAGE=sosqueue-acme-help", "SHORTCUT_NAME='Acme Help SOS.desktop'",
                 "TEMPLATE=/opt/sosqueue-acme-help/sos-shortcut.desktop", "STATE_DIR=/var/lib/sosqueue-acme-help",
                 "SELF=/opt/sosqueue-acme-help/desktop-shortcuts", f"WANTED={flag}"]:
        expected = expected.replace(f"{line.partition('=')[0]}=''\n", f"{line}\n")
    assert shortcut_helper(LAYOUT, wanted=wanted) == expected


def test_filled_in_helper_and_maintainer_scripts_are_shellcheck_clean(tmp_path):
    """The scripts as a package carries them pass shellcheck too."""
    shellcheck = require_tool("shellcheck", "shellcheck")
    scripts = {"desktop-shortcuts": shortcut_helper(LAYOUT, wanted=True), **maintainer_scripts(LAYOUT)}
    for name, text in scripts.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run([shellcheck, "-s", "sh", *(tmp_path / name for name in scripts)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_maintainer_scripts_call_the_helper_and_clean_up_the_state():
    """preinst makes /opt if missing, postinst configures, prerm removes the shortcuts, postrm purges the state."""
    scripts = maintainer_scripts(LAYOUT)
    assert list(scripts) == ["preinst", "postinst", "prerm", "postrm"]
    assert "[ -d /opt ] || mkdir -m 0755 /opt\n" in scripts["preinst"]
    assert "/opt/sosqueue-acme-help/desktop-shortcuts configure\n" in scripts["postinst"]
    assert "/opt/sosqueue-acme-help/desktop-shortcuts remove || echo" in scripts["prerm"]
    assert "rm -rf /var/lib/sosqueue-acme-help\n" in scripts["postrm"]
    assert all(text.startswith("#!/bin/sh\n") and "\nset -e\n" in text for text in scripts.values())
