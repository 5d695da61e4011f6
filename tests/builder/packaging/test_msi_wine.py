"""The MSI installed for real under Wine: ``msiexec /i`` with each public property, then what
landed in the prefix's files, shortcuts and registry; an upgrade; a refused downgrade; and
``msiexec /x`` leaving nothing behind.

One Wine prefix serves the whole file (starting one takes seconds); every test removes what it
installed, also when it fails. What Wine cannot show (the per-machine folders of
``ALLUSERS=1``, the elevation, a real Windows Installer's rules) is listed in the README.
"""

import json
import secrets
from pathlib import Path

import pytest

from builder.packaging import onedir
from builder.packaging.module import read_module
from builder.packaging.msi import BuiltMsi, build_msi
from tests.builder.packaging import unique_product
from sosqueue import payload, updates
from tests.builder.packaging.wine import ERROR_SUCCESS, POLICY_KEY, RUN_KEY, WinePrefix, compile_locale
from tests.builder.packaging.windows_modules import stamp_windows_module, windows_folder_base
from tests.support.tools import require_tool

COMPANY = "Müller GmbH"
COMPANY_KEY = rf"HKLM\Software\{COMPANY}"


def require_tools() -> None:
    require_tool("wine", "wine")
    require_tool("wixl", "wixl")
    require_tool("msibuild", "msitools")


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> WinePrefix:
    require_tools()
    prefix = WinePrefix(tmp_path_factory.mktemp("wine"))
    prefix.boot()
    yield prefix
    prefix.stop()


@pytest.fixture(scope="module")
def product() -> str:
    return f"Hülfe {unique_product()[-6:]}"


@pytest.fixture(scope="module")
def module(tmp_path_factory, product) -> Path:
    require_tools()
    return stamp_windows_module(tmp_path_factory.mktemp("module"), product=product, company=COMPANY,
                                module_id=f"mod-{secrets.token_hex(8)}")


@pytest.fixture(scope="module")
def msis(tmp_path_factory, module) -> dict[str, BuiltMsi]:
    """Versions 1.0.0 and 1.0.1 of one module."""
    out = tmp_path_factory.mktemp("msi")
    return {version: build_msi(read_module(module), out / version, version=version) for version in ("1.0.0", "1.0.1")}


@pytest.fixture
def installs(wine, msis):
    """Install with ``installs(version, *properties)``; whatever is installed is removed afterwards."""

    def install(version: str, *properties: str) -> int:
        return wine.msiexec("/i", msis[version].path, "/qn", *properties)

    yield install
    left = {entry.key for entry in wine.installed()}
    for built in msis.values():
        if built.product_code in left:
            wine.msiexec("/x", built.product_code, "/qn")


def install_folder(wine: WinePrefix, product: str) -> Path:
    return wine.drive_c / "Program Files" / COMPANY / product


def entries_of(wine: WinePrefix, product: str) -> list:
    return [entry for entry in wine.installed() if entry.values["DisplayName"] == product]


def assert_nothing_left(wine: WinePrefix, product: str) -> None:
    """No file, folder, shortcut, Run value, uninstall entry nor registry value of the product."""
    assert not (wine.drive_c / "Program Files" / COMPANY).exists()
    assert [name for name in wine.shortcuts() if name.startswith(product)] == []
    assert f"{product} SOS" not in wine.values(RUN_KEY)
    assert entries_of(wine, product) == []
    assert all(values == {} for values in wine.registry(COMPANY_KEY).values())
    assert updates.POLICY_REGISTRY_VALUE not in wine.values(POLICY_KEY)


def test_default_install_puts_the_module_and_both_shortcuts_and_no_autostart(wine, installs, module, product):
    """/qn alone: the module and its marker in Program Files\\Müller GmbH\\<Product>, the Start menu
    and SOS shortcuts, no Run value, and one uninstall entry spelled right."""
    assert installs("1.0.0") == ERROR_SUCCESS
    folder = install_folder(wine, product)
    assert (folder / f"{product}.exe").read_bytes() == module.read_bytes()
    assert json.loads((folder / "sosqueue-package.json").read_text())["version"] == "1.0.0"
    shortcuts = wine.shortcuts()
    assert shortcuts[f"{product}.lnk"].parent.parts[-2:] == ("Start Menu", "Programs")
    assert shortcuts[f"{product} SOS.lnk"].parent.name == "Desktop"
    assert f"{product} SOS" not in wine.values(RUN_KEY)
    (entry,) = entries_of(wine, product)
    assert (entry.values["DisplayVersion"], entry.values["Publisher"]) == ("1.0.0", COMPANY)
    assert wine.values(rf"{COMPANY_KEY}\{product}")["InstallDir"] == f"C:\\Program Files\\{COMPANY}\\{product}\\"
    assert updates.POLICY_REGISTRY_VALUE not in wine.values(POLICY_KEY)  # no UPDATES, no policy


def test_desktop_shortcut_0_leaves_out_the_sos_shortcut_only(wine, installs, product):
    """DESKTOP_SHORTCUT=0: the Start menu shortcut, but no SOS shortcut."""
    assert installs("1.0.0", "DESKTOP_SHORTCUT=0") == ERROR_SUCCESS
    names = set(wine.shortcuts())
    assert f"{product}.lnk" in names and f"{product} SOS.lnk" not in names


def test_autostart_1_writes_the_run_value_with_tray(wine, installs, product):
    """AUTOSTART=1: HKLM Run "<Product> SOS" = "C:\\Program Files\\…\\<Product>.exe" --tray."""
    assert installs("1.0.0", "AUTOSTART=1") == ERROR_SUCCESS
    exe = f"C:\\Program Files\\{COMPANY}\\{product}\\{product}.exe"
    assert wine.values(RUN_KEY)[f"{product} SOS"] == f'"{exe}" --tray'


def test_plain_uninstall_after_autostart_leaves_nothing(wine, installs, msis, product):
    """Installed with AUTOSTART=1, removed with a plain msiexec /x: no Run value, nothing else left."""
    assert installs("1.0.0", "AUTOSTART=1") == ERROR_SUCCESS
    assert wine.msiexec("/x", msis["1.0.0"].path, "/qn") == ERROR_SUCCESS
    assert_nothing_left(wine, product)


def test_uninstall_with_the_switches_off_still_removes_shortcut_and_autostart(wine, installs, msis, product):
    """/x DESKTOP_SHORTCUT=0 AUTOSTART=0 (by ProductCode) after an install with both: nothing left."""
    assert installs("1.0.0", "AUTOSTART=1", "DESKTOP_SHORTCUT=1") == ERROR_SUCCESS
    assert wine.msiexec("/x", msis["1.0.0"].product_code, "/qn", "DESKTOP_SHORTCUT=0", "AUTOSTART=0") == ERROR_SUCCESS
    assert_nothing_left(wine, product)


def test_updates_off_writes_the_policy_value_and_a_plain_uninstall_removes_it(wine, installs, msis, product):
    """UPDATES=off: HKLM\\SOFTWARE\\Policies\\sosqueue Updates = "off"; msiexec /x without it: gone."""
    assert installs("1.0.0", f"{updates.MSI_POLICY_PROPERTY}=off") == ERROR_SUCCESS
    assert wine.values(POLICY_KEY)[updates.POLICY_REGISTRY_VALUE] == updates.Policy.OFF
    assert wine.msiexec("/x", msis["1.0.0"].path, "/qn") == ERROR_SUCCESS
    assert_nothing_left(wine, product)


def test_updates_with_another_value_installs_without_a_policy(wine, installs, product):
    """UPDATES=sometimes is not a policy: the install succeeds and writes none."""
    assert installs("1.0.0", f"{updates.MSI_POLICY_PROPERTY}=sometimes") == ERROR_SUCCESS
    assert entries_of(wine, product) != []
    assert updates.POLICY_REGISTRY_VALUE not in wine.values(POLICY_KEY)


def test_policy_of_two_modules_stays_until_the_last_one_is_removed(wine, installs, msis, product, tmp_path):
    """Another company's module installed with UPDATES=notify over ours with UPDATES=off: the last
    value holds; removing the other keeps it (ours still uses it), removing ours as well removes it."""
    other = build_msi(read_module(stamp_windows_module(tmp_path / "other", product=f"{product} B", company=COMPANY,
                                                       module_id=f"mod-{secrets.token_hex(8)}")),
                      tmp_path / "msi", version="1.0.0")
    assert installs("1.0.0", f"{updates.MSI_POLICY_PROPERTY}=off") == ERROR_SUCCESS
    try:
        assert wine.msiexec("/i", other.path, "/qn", f"{updates.MSI_POLICY_PROPERTY}=notify") == ERROR_SUCCESS
        assert wine.values(POLICY_KEY)[updates.POLICY_REGISTRY_VALUE] == updates.Policy.NOTIFY
    finally:
        assert wine.msiexec("/x", other.product_code, "/qn") == ERROR_SUCCESS
    assert wine.values(POLICY_KEY)[updates.POLICY_REGISTRY_VALUE] == updates.Policy.NOTIFY
    assert wine.msiexec("/x", msis["1.0.0"].path, "/qn") == ERROR_SUCCESS
    assert_nothing_left(wine, product)


def test_upgrade_replaces_the_old_version_in_place(wine, installs, msis, product):
    """1.0.0 then 1.0.1: one product afterwards (one uninstall entry, 1.0.1, files replaced, one
    Run value), and removing 1.0.1 leaves nothing."""
    assert installs("1.0.0", "AUTOSTART=1") == ERROR_SUCCESS
    assert installs("1.0.1", "AUTOSTART=1") == ERROR_SUCCESS
    (entry,) = entries_of(wine, product)
    assert entry.key == msis["1.0.1"].product_code and entry.values["DisplayVersion"] == "1.0.1"
    marker = json.loads((install_folder(wine, product) / "sosqueue-package.json").read_text())
    assert marker["version"] == "1.0.1"
    assert [name for name in wine.values(RUN_KEY) if name.startswith(product)] == [f"{product} SOS"]
    assert wine.msiexec("/x", msis["1.0.1"].path, "/qn") == ERROR_SUCCESS
    assert_nothing_left(wine, product)


def test_upgrade_without_autostart_removes_the_old_run_value(wine, installs, product):
    """The properties are not remembered: 1.0.0 with AUTOSTART=1, then 1.0.1 alone: no Run value."""
    assert installs("1.0.0", "AUTOSTART=1") == ERROR_SUCCESS
    assert installs("1.0.1") == ERROR_SUCCESS
    assert f"{product} SOS" not in wine.values(RUN_KEY)
    assert [entry.values["DisplayVersion"] for entry in entries_of(wine, product)] == ["1.0.1"]


def test_downgrade_is_refused_and_the_newer_version_stays(wine, installs, product):
    """1.0.1 installed, then 1.0.0: msiexec fails (the launch condition NOT WIX_DOWNGRADE_DETECTED
    stops it; Windows exits 1603, Wine's msiexec 67) and 1.0.1 stays, alone."""
    assert installs("1.0.1") == ERROR_SUCCESS
    assert installs("1.0.0") != ERROR_SUCCESS
    assert [entry.values["DisplayVersion"] for entry in entries_of(wine, product)] == ["1.0.1"]
    assert json.loads((install_folder(wine, product) / "sosqueue-package.json").read_text())["version"] == "1.0.1"


def test_latin_names_survive_a_cyrillic_system_code_page(tmp_path, msis, product):
    """Under a Russian Windows (ANSI code page 1251) "Müller GmbH" and the product's umlaut still
    name the folder, the Run value and the uninstall entry right: the MSI says its code page."""
    require_tools()
    locales = compile_locale(tmp_path / "locales", "ru_RU.UTF-8")
    if locales is None:
        pytest.skip("this computer cannot compile the ru_RU.UTF-8 locale (localedef, /usr/share/i18n)")
    russian = WinePrefix(tmp_path / "ru", language="ru_RU.UTF-8", locales=locales)
    russian.boot()
    try:
        assert russian.values(r"HKLM\System\CurrentControlSet\Control\Nls\CodePage")["ACP"] == "1251"
        assert russian.msiexec("/i", msis["1.0.0"].path, "/qn", "AUTOSTART=1") == ERROR_SUCCESS
        assert (install_folder(russian, product) / f"{product}.exe").is_file()
        assert f"{product} SOS" in russian.values(RUN_KEY)
        (entry,) = entries_of(russian, product)
        assert entry.values["Publisher"] == COMPANY
    finally:
        russian.stop()


def test_folder_form_installs_internal_beside_the_module_and_uninstall_removes_it(wine, tmp_path, module, product):
    """Built with a folder base: _internal lands beside <Product>.exe with its subfolders, the
    program carries the module's payload, and msiexec /x leaves nothing behind."""
    stamped = read_module(module)
    base = onedir.read_folder_base(windows_folder_base(tmp_path / "onedir"), stamped)
    built = build_msi(stamped, tmp_path / "msi", version="1.0.0", folder_base=base)
    try:
        assert wine.msiexec("/i", built.path, "/qn") == ERROR_SUCCESS
        folder = install_folder(wine, product)
        assert payload.read(folder / f"{product}.exe") == payload.read(module)
        assert (folder / onedir.CONTENTS / "python311.dll").is_file()
        assert (folder / onedir.CONTENTS / "_tcl_data" / "encoding" / "cp1252.enc").read_text() == "encoding table"
    finally:
        assert wine.msiexec("/x", built.path, "/qn") == ERROR_SUCCESS
    assert_nothing_left(wine, product)
