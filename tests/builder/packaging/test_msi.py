"""``sosqueue package msi``: the MSI's tables read back with msiinfo, its cabinet unpacked with
msiextract, its codes and switches, and bad input.

The module in these tests is a stamped minimal PE program (:mod:`windows_modules`); the MSI
only checks that it is a Windows program. What the MSI does when installed is in
``test_msi_wine.py``.
"""

import json
import shutil
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from sosqueue import module_config
from sosqueue import payload, updates
from sosqueue.errors import ConfigError, ExitCode, ToolFailed
from builder.packaging.module import read_module
from builder.packaging import check_platform, msi, onedir
from builder.packaging.msi import UPGRADE_NAMESPACE, build_msi
from builder.tools.wixl import MsiInfo, Wixl
from tests.builder.packaging import assert_refused, damage, entries, plain_copy, run_cli, stamp_module, unique_product
from tests.builder.packaging.windows_modules import stamp_windows_module, windows_base, windows_folder_base

HAS_MSITOOLS = all(shutil.which(tool) for tool in ("wixl", "msiinfo", "msibuild", "msiextract"))
pytestmark = pytest.mark.skipif(not HAS_MSITOOLS, reason="wixl and msitools are not installed")


def table(msi: Path, name: str) -> list[list[str]]:
    """The rows of an MSI table (without msiinfo's three header lines)."""
    return [line.split("\t") for line in MsiInfo().export(msi, name).splitlines()[3:]]


def properties(msi: Path) -> dict[str, str]:
    return {row[0]: row[1] for row in table(msi, "Property")}


def components(msi: Path) -> dict[str, list[str]]:
    """Component → [ComponentId, Directory_, Attributes, Condition, KeyPath]."""
    return {row[0]: row[1:] for row in table(msi, "Component")}


def summary_information(msi: Path) -> dict[int, int | bytes]:
    """The summary information's properties by id, read from the raw stream: numbers, and
    texts as the bytes stored (their code page is property 1)."""
    data = MsiInfo().stream(msi, "\x05SummaryInformation")
    (section,) = struct.unpack_from("<I", data, 44)
    _, count = struct.unpack_from("<II", data, section)
    found: dict[int, int | bytes] = {}
    for index in range(count):
        pid, offset = struct.unpack_from("<II", data, section + 8 + 8 * index)
        (kind,) = struct.unpack_from("<I", data, section + offset)
        if kind in (2, 3):  # VT_I2, VT_I4
            found[pid] = struct.unpack_from("<h" if kind == 2 else "<i", data, section + offset + 4)[0]
        elif kind == 30:  # VT_LPSTR: length with the terminating NUL, then the bytes
            (length,) = struct.unpack_from("<I", data, section + offset + 4)
            start = section + offset + 8
            found[pid] = data[start:start + length].rstrip(b"\0")
    return found


@pytest.fixture
def product() -> str:
    return unique_product()


@pytest.fixture
def module(tmp_path, product) -> Path:
    return stamp_windows_module(tmp_path / "modules", product=product, company="Acme Corp")


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out dir"


def build(capsys, module: Path, out: Path, *options: str) -> Path:
    code, stdout, stderr = run_cli(capsys, "package", "msi", "--module", str(module), "--out", str(out), *options)
    assert code == ExitCode.OK, stderr
    return Path(stdout.strip())


def test_msi_has_the_tables_of_a_per_machine_install(capsys, module, out):
    """The MSI has File, Component, Shortcut, Registry, Property, Upgrade and RemoveFile tables, ALLUSERS=1."""
    msi = build(capsys, module, out, "--version", "1.2.3")
    assert {"File", "Component", "Shortcut", "Registry", "Property", "Upgrade", "RemoveFile", "Icon"} <= set(
        MsiInfo().tables(msi))
    found = properties(msi)
    assert found["ALLUSERS"] == "1"
    assert found["ProductVersion"] == "1.2.3"
    assert found["Manufacturer"] == "Acme Corp"


def test_module_is_installed_under_program_files_company_product(capsys, module, out, product):
    """The module becomes ProgramFiles64Folder\\<Company>\\<Product>\\<Product>.exe."""
    msi = build(capsys, module, out)
    directories = {row[0]: row[1:] for row in table(msi, "Directory")}
    assert directories["INSTALLDIR"] == ["CompanyFolder", product]
    assert directories["CompanyFolder"] == ["ProgramFiles64Folder", "Acme Corp"]
    files = {row[0]: row for row in table(msi, "File")}
    assert files["ModuleExe"][2] == f"{product}.exe"
    assert int(files["ModuleExe"][3]) == module.stat().st_size
    assert components(msi)["Module"][1] == "INSTALLDIR"


def test_public_properties_switch_desktop_shortcut_and_autostart_at_install_only(capsys, module, out):
    """DESKTOP_SHORTCUT (default 1) and AUTOSTART (default 0) are secure properties conditioning their
    components, whose conditions are also true while the product is removed (REMOVE=ALL)."""
    msi = build(capsys, module, out)
    found = properties(msi)
    assert (found["DESKTOP_SHORTCUT"], found["AUTOSTART"]) == ("1", "0")
    assert {"DESKTOP_SHORTCUT", "AUTOSTART"} <= set(found["SecureCustomProperties"].split(";"))
    parts = components(msi)
    assert parts["DesktopShortcut"][3] == 'DESKTOP_SHORTCUT = "1" OR REMOVE ~= "ALL"'
    assert parts["Autostart"][3] == 'AUTOSTART = "1" OR REMOVE ~= "ALL"'
    assert parts["Module"][3] == "" and parts["MenuShortcut"][3] == ""


def test_updates_property_writes_the_policy_value_only_when_off_or_notify(capsys, module, out):
    """UPDATES (no default, secure) writes HKLM\\SOFTWARE\\Policies\\sosqueue Updates = [UPDATES] from a
    component installed for "off" or "notify" in any case, and removed with the product."""
    msi = build(capsys, module, out)
    found = properties(msi)
    assert updates.MSI_POLICY_PROPERTY not in found
    assert updates.MSI_POLICY_PROPERTY in found["SecureCustomProperties"].split(";")
    assert components(msi)["UpdatePolicy"][3] == 'UPDATES ~= "off" OR UPDATES ~= "notify" OR REMOVE ~= "ALL"'
    (policy,) = [row for row in table(msi, "Registry") if row[5] == "UpdatePolicy"]
    assert policy[1:5] == ["2", updates.POLICY_REGISTRY_KEY, updates.POLICY_REGISTRY_VALUE,
                           f"[{updates.MSI_POLICY_PROPERTY}]"]


def test_every_modules_policy_component_is_one_shared_component(capsys, tmp_path, out):
    """Two companies' MSIs write the one policy value through the same component id, so Windows
    Installer counts its users and removes the value with the last of them."""
    first = build(capsys, stamp_windows_module(tmp_path / "a", product=unique_product()), out)
    second = build(capsys, stamp_windows_module(tmp_path / "b", product=unique_product()), out)
    assert components(first)["UpdatePolicy"][0] == components(second)["UpdatePolicy"][0]


def test_shortcuts_go_to_the_start_menu_and_public_desktop(capsys, module, out, product):
    """A Start menu shortcut opens the module; the desktop one (ALLUSERS: Public Desktop) passes --sos."""
    msi = build(capsys, module, out)
    shortcuts = {row[0]: row for row in table(msi, "Shortcut")}
    menu, desktop = shortcuts["MenuShortcut"], shortcuts["DesktopShortcut"]
    assert menu[1:5] == ["ProgramMenuFolder", product, "MenuShortcut", f"[INSTALLDIR]{product}.exe"]
    assert desktop[1:6] == ["DesktopFolder", f"{product} SOS", "DesktopShortcut", f"[INSTALLDIR]{product}.exe", "--sos"]
    assert desktop[8] == "sos.ico"


def test_autostart_is_an_hklm_run_value_with_tray(capsys, module, out, product):
    """AUTOSTART writes HKLM Run "<Product> SOS" = "[INSTALLDIR]<exe>" --tray."""
    msi = build(capsys, module, out)
    run_values = [row for row in table(msi, "Registry") if row[2] == r"Software\Microsoft\Windows\CurrentVersion\Run"]
    assert len(run_values) == 1
    _, root, _, name, value, component = run_values[0]
    assert (root, name, value, component) == ("2", f"{product} SOS", f'"[INSTALLDIR]{product}.exe" --tray', "Autostart")


def test_uninstall_removes_every_component_and_folder(capsys, module, out):
    """Every component is in the feature, and the install and company folders are removed on uninstall."""
    msi = build(capsys, module, out)
    featured = {row[1] for row in table(msi, "FeatureComponents")}
    assert featured == set(components(msi))
    removed = {(row[3], row[4]) for row in table(msi, "RemoveFile")}
    assert {("INSTALLDIR", "2"), ("CompanyFolder", "2")} <= removed  # 2: on uninstall
    module_id = read_module(module).module_id
    assert [row[4] for row in table(msi, "Registry") if row[3] == "ModuleId"] == [module_id]


def test_cabinet_carries_the_stamped_module_byte_for_byte(capsys, tmp_path, module, out, product):
    """msiextract gets back exactly the stamped module, which still reads its own payload."""
    msi = build(capsys, module, out)
    unpacked = tmp_path / "unpacked"
    subprocess.run(["msiextract", "-C", unpacked, msi], check=True, capture_output=True)
    exe = next(unpacked.rglob(f"{product}.exe"))
    assert exe.parent.parts[-2:] == ("Acme Corp", product)
    assert exe.read_bytes() == module.read_bytes()
    assert module_config.parse(payload.read(exe)).brand.product == product
    marker = json.loads((exe.parent / "sosqueue-package.json").read_text())
    assert marker["installer"] == "msi" and marker["module_id"] == read_module(module).module_id


def test_upgrade_code_is_stable_and_product_code_new_per_build(capsys, tmp_path, module, out):
    """Two builds of one module share the UpgradeCode (uuid5 of the module id) but not the ProductCode."""
    first = properties(build(capsys, module, out, "--version", "1.0.0"))
    second = properties(build(capsys, module, tmp_path / "again", "--version", "1.0.1"))
    expected = "{" + str(uuid.uuid5(UPGRADE_NAMESPACE, read_module(module).module_id)).upper() + "}"
    assert first["UpgradeCode"] == second["UpgradeCode"] == expected
    assert first["ProductCode"] != second["ProductCode"]


def test_other_modules_get_other_upgrade_codes(capsys, tmp_path, out):
    """Modules with different ids never upgrade each other."""
    first = build(capsys, stamp_windows_module(tmp_path / "a", product=unique_product()), out)
    second = build(capsys, stamp_windows_module(tmp_path / "b", product=unique_product()), out)
    assert properties(first)["UpgradeCode"] != properties(second)["UpgradeCode"]


def test_major_upgrade_replaces_older_and_same_versions_and_refuses_downgrades(capsys, module, out):
    """The Upgrade table removes versions up to this one (inclusive) and detects newer ones."""
    msi = build(capsys, module, out, "--version", "2.3.4")
    code = properties(msi)["UpgradeCode"]
    rows = {row[6]: row for row in table(msi, "Upgrade")}
    upgrade, downgrade = rows["WIX_UPGRADE_DETECTED"], rows["WIX_DOWNGRADE_DETECTED"]
    assert upgrade[:3] == [code, "", "2.3.4"] and int(upgrade[4]) & 0x200  # VersionMaxInclusive
    assert downgrade[:3] == [code, "2.3.4", ""] and int(downgrade[4]) & 0x002  # OnlyDetect
    assert "RemoveExistingProducts" in {row[0] for row in table(msi, "InstallExecuteSequence")}
    assert ["NOT WIX_DOWNGRADE_DETECTED", "A newer version of [ProductName] is installed."] in table(
        msi, "LaunchCondition")


def test_names_with_dollars_umlauts_and_markup_survive(capsys, tmp_path, out):
    """A product "Cash$ Hülfe" and a company "A & B <Co>" arrive exactly; folders drop what Windows forbids."""
    product = f"Cash$ Hülfe {unique_product()[-6:]}"
    module = stamp_windows_module(tmp_path / "m", product=product, company="A & B <Co>", name="module with spaces")
    msi = build(capsys, module, out)
    found = properties(msi)
    assert (found["ProductName"], found["Manufacturer"]) == (product, "A & B <Co>")
    directories = {row[0]: row[1:] for row in table(msi, "Directory")}
    assert directories["CompanyFolder"] == ["ProgramFiles64Folder", "A & B Co"]
    assert f"{product}.exe" in {row[2] for row in table(msi, "File")}


def test_string_pool_and_summary_information_are_in_code_page_1252(capsys, tmp_path, out):
    """"Müller GmbH" is stored as Windows-1252 bytes under code page 1252, in the string pool
    (_ForceCodepage) and in the summary information Explorer shows."""
    product = f"Hülfe {unique_product()[-6:]}"
    msi = build(capsys, stamp_windows_module(tmp_path / "m", product=product, company="Müller GmbH"), out,
                "--version", "1.0.0")
    assert "1252\t_ForceCodepage" in MsiInfo().export(msi, "_ForceCodepage").splitlines()
    assert (properties(msi)["ProductName"], properties(msi)["Manufacturer"]) == (product, "Müller GmbH")
    summary = summary_information(msi)
    assert summary[1] == 1252
    assert summary[3] == f"{product} 1.0.0".encode("cp1252")  # Subject
    assert summary[4] == "Müller GmbH".encode("cp1252")  # Author
    assert summary[6] == "The SOS support button of Müller GmbH".encode("cp1252")  # Comments


def test_json_output_names_the_codes(capsys, module, out):
    """--json prints the path, ProductCode, UpgradeCode and version."""
    code, stdout, _ = run_cli(capsys, "package", "msi", "--module", str(module), "--out", str(out), "--json",
                              "--version", "4.5.6")
    result = json.loads(stdout)
    assert code == ExitCode.OK
    assert properties(Path(result["path"]))["ProductCode"] == result["product_code"]
    assert result["version"] == "4.5.6" and result["upgrade_code"].startswith("{")


# --- the folder form (--onedir-base) ---------------------------------------------------------


def test_onedir_base_installs_the_folders_program_and_internal_a_component_each(capsys, tmp_path, module, out,
                                                                               product):
    """The cabinet holds the folder base's program carrying the module's payload as <Product>.exe
    and every file of _internal beside it, in its folders; each file is its own component."""
    base = windows_folder_base(tmp_path / "onedir")
    msi = build(capsys, module, out, "--onedir-base", str(base))
    unpacked = tmp_path / "unpacked"
    subprocess.run(["msiextract", "-C", unpacked, msi], check=True, capture_output=True)
    exe = next(unpacked.rglob(f"{product}.exe"))
    verified = payload.verify(exe)
    assert verified.program is payload.Program.VERIFIED and verified.payload == payload.read(module)
    assert exe.read_bytes()[:payload.span(exe)[0]] == (base / "sosqueue-agent.exe").read_bytes()
    contents = exe.parent / onedir.CONTENTS
    assert (contents / "python311.dll").read_bytes() == (base / onedir.CONTENTS / "python311.dll").read_bytes()
    assert (contents / "_tcl_data" / "encoding" / "cp1252.enc").read_text() == "encoding table"
    keys = {component: columns[4] for component, columns in components(msi).items()}  # its KeyPath
    files = {row[0]: row[1] for row in table(msi, "File")}
    parts = [component for component in keys if component.startswith("Part_")]
    assert len(parts) == 2 and all(keys[component] in files for component in parts)
    assert {row[1] for row in table(msi, "FeatureComponents")} == set(keys)


def test_onedir_json_names_the_form(capsys, tmp_path, module, out):
    """--json says which form the MSI installs."""
    code, stdout, stderr = run_cli(capsys, "package", "msi", "--module", str(module), "--out", str(out), "--json",
                                   "--onedir-base", str(windows_folder_base(tmp_path / "onedir")))
    assert code == ExitCode.OK, stderr
    assert json.loads(stdout)["form"] == "onedir"


def test_linux_folder_base_is_refused_for_a_windows_module(capsys, tmp_path, module, out):
    """A folder base must be of the module's platform."""
    base = tmp_path / "onedir"
    plain_copy(base, name="sosqueue-agent.exe")  # an ELF program under the Windows name
    (base / onedir.CONTENTS).mkdir()
    refused(capsys, out, ["--module", str(module), "--onedir-base", str(base)], ExitCode.BASE, "Linux base agent")


# --- bad input ------------------------------------------------------------------------------


def refused(capsys, out: Path, args: list[str], code: ExitCode, words: str) -> None:
    assert_refused(capsys, out, "msi", args, code, words)


def test_missing_module_is_refused(capsys, tmp_path, out):
    """No file at --module: NOT_FOUND."""
    refused(capsys, out, ["--module", str(tmp_path / "nothing.exe")], ExitCode.NOT_FOUND, "no module at")


def test_base_agent_is_refused(capsys, tmp_path, out):
    """An unstamped program: NOT_A_MODULE, naming the base agent."""
    refused(capsys, out, ["--module", str(plain_copy(tmp_path / "b", base=windows_base(tmp_path / "w")))], ExitCode.NOT_A_MODULE, "base agent")


def test_damaged_module_is_refused(capsys, module, out):
    """A changed payload byte: CHANGED_MODULE."""
    refused(capsys, out, ["--module", str(damage(module))], ExitCode.CHANGED_MODULE, "changed configuration")


def test_unwritable_out_is_refused(capsys, tmp_path, module):
    """An --out that is a file: OUTPUT."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused(capsys, blocker, ["--module", str(module)], ExitCode.OUTPUT, "choose another --out")


def test_preprocessor_syntax_in_the_product_name_is_refused(capsys, tmp_path, out):
    """wixl would expand "$(" in a name: CONFIG, before anything is written."""
    module = stamp_windows_module(tmp_path / "m", product="Help $(var.X)")
    refused(capsys, out, ["--module", str(module)], ExitCode.CONFIG, "$(")


def test_names_outside_windows_1252_are_refused(capsys, tmp_path, out):
    """wixl writes Windows-1252 only: a Cyrillic product name is a CONFIG error, not an empty name."""
    module = stamp_windows_module(tmp_path / "m", product="Поддержка " + unique_product()[-6:])
    refused(capsys, out, ["--module", str(module)], ExitCode.CONFIG, "Windows-1252")


def test_macos_app_is_refused(tmp_path, out, module):
    """A macOS .app cannot go into an MSI."""
    app = tmp_path / "Help.app"
    (app / "Contents" / "Resources").mkdir(parents=True)
    (app / "Contents" / "MacOS").mkdir()
    shutil.copyfile(module, app / payload.MACOS_RESOURCE)
    with pytest.raises(ConfigError, match="is a macOS module; an MSI wraps Windows modules"):
        check_platform(msi.FORMAT, read_module(app))


def test_failing_wixl_leaves_nothing_in_out(tmp_path, module, out):
    """When wixl fails, TOOL_FAILED, and out holds no staging folder and no MSI."""
    with pytest.raises(ToolFailed):
        build_msi(read_module(module), out, version="1.0.0", wixl=Wixl(which=lambda _: shutil.which("false")))
    assert entries(out) == []
