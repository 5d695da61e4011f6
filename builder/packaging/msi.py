"""The Windows MSI: a per-machine install of a Windows module, built with ``wixl`` (msitools).

What it installs (``ALLUSERS=1``)::

    ProgramFiles64Folder\\<Company>\\<Product>\\<Product>.exe    the module
    ...\\<Product>\\_internal\\                                 its libraries, from a folder base (--onedir-base)
    ...\\<Product>\\sosqueue-package.json                      tells the agent a package set it up
    ProgramMenuFolder\\<Product>.lnk                           the Start menu entry
    DesktopFolder\\<Product> SOS.lnk                            the SOS shortcut on the Public Desktop
                                                               (when DESKTOP_SHORTCUT=1, the default)
    HKLM\\...\\CurrentVersion\\Run  "<Product> SOS"              "<exe>" --tray (when AUTOSTART=1)
    HKLM\\Software\\<Company>\\<Product>                         InstallDir, ModuleId, key paths
    HKLM\\SOFTWARE\\Policies\\sosqueue  Updates                 IT's update policy (when UPDATES is set)

Public properties (``msiexec /i X.msi /qn NAME=VALUE``), all secure, so they reach the
elevated part of a per-machine install:

``DESKTOP_SHORTCUT``
    ``1`` (default): the SOS shortcut on the Public Desktop; ``0``: none.
``AUTOSTART``
    ``1``: the agent starts in the tray at every logon (the HKLM ``Run`` value); ``0``
    (default): it does not.
``UPDATES`` (:data:`sosqueue.updates.MSI_POLICY_PROPERTY`)
    ``off`` or ``notify`` (any case): writes IT's update policy for every sosqueue module on
    the computer (:data:`sosqueue.updates.POLICY_REGISTRY_KEY`, value ``Updates``): ``off``:
    modules do not even ask their server for updates; ``notify``: they tell the customer that
    IT has one. Unset (default) or any other value: no policy is written (the install goes on).
    The value is one per computer, shared by every sosqueue MSI that set it (the last install's
    value holds); it is removed with the last of them.

The properties decide what is *installed* only: removing the product (``msiexec /x``, Programs
and Features, or the removal inside an upgrade) removes the shortcut, the ``Run`` value and the
policy value whatever properties it is given (see :data:`CONDITIONS`). They are not remembered:
an upgrade installs what its own command line says, so give them again to every version.

The install folder is fixed (``INSTALLDIR`` is not a documented property): the agent and the
``.deb`` expect the module in one place.

Versions and upgrades: ``ProductVersion`` is the ``--version`` given to ``sosqueue package
msi``. The UpgradeCode is derived from the module id, so every build of one module is one
product: a newer (or the same) version replaces the installed one in place (MajorUpgrade; the
old version is removed first, leaving one entry in Programs and Features), and an older one is
refused with "A newer version of <Product> is installed." (exit code 1603). The ProductCode is
new for every build.

Text: the string pool and the summary information are in code page 1252 (Windows-1252), so
"Müller GmbH" reads the same on every Windows, whatever its own code page. wixl 0.101 (Debian
12) writes strings in Windows-1252 only (text outside it would come out empty), so company and
product names it cannot hold (Cyrillic, Greek, CJK…) are refused with ``ConfigError``, not
transliterated. wixl does not know ``Component/Condition``, ``_ForceCodepage``,
``MajorUpgrade/@AllowSameVersionUpgrades`` nor ``Property/@Secure``: those are set in the built
database with ``msibuild`` (SQL and ``.idt`` imports), giving the tables the WiX toolset writes.

Silent install and removal::

    msiexec /i Acme-Help-1.2.3.msi /qn DESKTOP_SHORTCUT=0 AUTOSTART=1 UPDATES=off
    msiexec /x Acme-Help-1.2.3.msi /qn
"""

import hashlib
import logging
import re
import shutil
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sosqueue import updates
from sosqueue.errors import ConfigError, OutputError
from sosqueue.platforms import Platform, display_name, file_name, sos_name
from builder.packaging import onedir
from builder.packaging.format import Format
from builder.packaging.module import PACKAGE_MARKER, Module, marker
from builder.packaging.output import publish, staging
from builder.tools.wixl import MsiBuild, Wixl

log = logging.getLogger("sosqueue.builder")

PLATFORM = Platform.WINDOWS
SUFFIX = ".msi"
WIX_NAMESPACE = "http://schemas.microsoft.com/wix/2006/wi"
#: UpgradeCode = uuid5(UPGRADE_NAMESPACE, module id): stable for a module, distinct between modules.
UPGRADE_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:sosqueue:msi:upgrade-code")
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
#: The only code page wixl 0.101 writes strings in; text outside it would come out empty.
CODEPAGE = "cp1252"
#: Its number, for the string pool (``_ForceCodepage``) and the summary information.
CODEPAGE_NUMBER = 1252
#: The public properties IT sets on the msiexec command line, with their defaults.
PROPERTIES = {"DESKTOP_SHORTCUT": "1", "AUTOSTART": "0"}
#: The policy values IT may give in ``UPDATES`` (``~=``: in any case); others write nothing, which
#: needs no custom action or launch condition to refuse them.
POLICY_VALUES = (updates.Policy.OFF, updates.Policy.NOTIFY)
#: The policy value is one per computer, so every module's MSI writes it through this one component:
#: Windows Installer then counts the products that installed it and removes it with the last one.
POLICY_COMPONENT = "{" + str(uuid.uuid5(UPGRADE_NAMESPACE, "update policy")).upper() + "}"
#: True whenever the whole product is being removed: ``msiexec /x``, Programs and Features, and
#: the old product's removal inside a major upgrade all set REMOVE=ALL.
REMOVING = 'REMOVE ~= "ALL"'
#: Which component each public property switches. A component whose condition is false is left
#: alone by every action, removal included, so each condition is also true while removing: the
#: property then decides only what is installed, and ``msiexec /x`` removes whatever is there,
#: whatever switches it is given. Removing a component that was never installed does nothing.
#: (Remembering the properties in the registry and reading them back with AppSearch would also
#: work, but a RegistrySearch overrides the command line on upgrades, and the Run value stays
#: behind again if the remembered value is lost; this condition needs nothing remembered, and
#: wixl can write it: it is one column, set with msibuild below.)
CONDITIONS = {"DesktopShortcut": f'DESKTOP_SHORTCUT = "1" OR {REMOVING}',
              "Autostart": f'AUTOSTART = "1" OR {REMOVING}',
              "UpdatePolicy": " OR ".join([*(f'{updates.MSI_POLICY_PROPERTY} ~= "{value}"' for value in POLICY_VALUES),
                                           REMOVING])}
_UPGRADE_MIGRATE_FEATURES = 0x001
_UPGRADE_VERSION_MAX_INCLUSIVE = 0x200
_WIXL_SECURE = "WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED"


@dataclass(frozen=True)
class BuiltMsi:
    """A finished MSI: where it is and its codes."""

    path: Path
    version: str
    product_code: str
    upgrade_code: str


@dataclass(frozen=True)
class Names:
    """What the MSI calls things: the brand's names as shown, and as Windows file and key names."""

    company: str
    product: str
    company_file: str
    product_file: str
    sos_file: str

    @classmethod
    def for_module(cls, module: Module) -> "Names":
        try:
            names = cls(company=display_name(module.company), product=display_name(module.product),
                        company_file=file_name(module.company), product_file=file_name(module.product),
                        sos_file=file_name(sos_name(module.product)))
        except ValueError as error:
            raise ConfigError(f"the brand's names cannot name Windows files ({error}); change the company or product") from None
        for text in (names.company, names.product):
            if "$(" in text:
                # wixl's preprocessor expands $(...) in every attribute and has no escape for it
                raise ConfigError(f"{text!r} contains '$(', which an MSI built with wixl cannot carry; rename it")
            try:
                text.encode(CODEPAGE)
            except UnicodeEncodeError:
                raise ConfigError(
                    f"{text!r} has characters an MSI built with wixl cannot carry (it writes Windows-1252 only); "
                    "use a Latin-script company and product name for the MSI") from None
        return names

    @property
    def exe(self) -> str:
        return f"{self.product_file}.exe"

    @property
    def key(self) -> str:
        return f"Software\\{self.company_file}\\{self.product_file}"


def upgrade_code(module_id: str) -> str:
    """The MSI UpgradeCode of a module: the same for every build of it."""
    return "{" + str(uuid.uuid5(UPGRADE_NAMESPACE, module_id)).upper() + "}"


def build_msi(module: Module, out_dir: Path, *, version: str, folder_base: onedir.FolderBase | None = None,
              wixl: Wixl | None = None, msibuild: MsiBuild | None = None) -> BuiltMsi:
    """Build ``<Product>-<version>.msi`` for a stamped module into ``out_dir``.

    With ``folder_base`` the MSI installs the module in the folder form, which starts faster
    (:mod:`builder.packaging.onedir`): the folder's program with the module's payload, and
    ``_internal`` beside it, a component per file.

    :raises ConfigError: if its names do not fit an MSI (``sosqueue package`` checks the platform first).
    :raises ToolMissing: if wixl or msibuild is not installed.
    :raises ToolFailed: if one of them fails.
    :raises OutputError: if ``out_dir`` cannot be written.
    """
    wixl, msibuild = wixl or Wixl(), msibuild or MsiBuild()
    wixl.verify()
    msibuild.verify()
    names = Names.for_module(module)
    codes = {"product": "{" + str(uuid.uuid4()).upper() + "}", "upgrade": upgrade_code(module.module_id)}
    target = out_dir / f"{re.sub(r'[^A-Za-z0-9._-]+', '-', names.product_file).strip('-') or 'support'}-{version}{SUFFIX}"
    log.info("building the MSI of %s %s…", names.product, version)
    with staging(out_dir) as scratch, tempfile.TemporaryDirectory(prefix="sosqueue-msi-") as sources:
        source = Path(sources) / "module.wxs"
        try:
            files = _stage_sources(Path(sources), module, version, folder_base)
            tree = ET.ElementTree(wix_document(names, version=version, codes=codes, files=files,
                                               module_id=module.module_id))
            ET.indent(tree)
            tree.write(source, encoding="utf-8", xml_declaration=True)
        except OSError as error:
            raise OutputError(f"cannot stage the MSI's files in {sources} ({error.strerror or error}); "
                              "free some space in the temporary folder (TMPDIR)") from None
        built = wixl.build(source, scratch / target.name)
        msibuild.query(built, *_fixups(version, codes["upgrade"]))
        msibuild.import_tables(built, Path(sources), *_write_codepage_tables(Path(sources), names, version))
        publish(built, target)
    log.info("MSI ready: %s", target)
    return BuiltMsi(path=target, version=version, product_code=codes["product"], upgrade_code=codes["upgrade"])


def _write_codepage_tables(folder: Path, names: Names, version: str) -> tuple[str, str]:
    """Write the ``.idt`` files that give the database its code page, and return their names.

    wixl writes the string pool's text in Windows-1252 but leaves the pool's code page at 0
    (the installing computer's own ANSI code page: "Müller" turns into "Mьller" where it is
    Cyrillic), and writes the summary information's texts as UTF-8 under a code page 1252
    property ("MÃ¼ller" in Explorer). Importing ``_ForceCodepage`` sets the pool's code page;
    importing ``_SummaryInformation`` rewrites the texts people see in Explorer in that code page.
    """
    codepage = "\r\n\r\n" + f"{CODEPAGE_NUMBER}\t_ForceCodepage\r\n"
    (folder / "_ForceCodepage.idt").write_bytes(codepage.encode("ascii"))
    texts = _summary_texts(names, version)
    rows = {1: str(CODEPAGE_NUMBER), 3: texts["Description"], 4: texts["Manufacturer"], 6: texts["Comments"]}
    summary = "PropertyId\tValue\r\ni2\tl255\r\n_SummaryInformation\tPropertyId\r\n"
    summary += "".join(f"{key}\t{value}\r\n" for key, value in rows.items())
    (folder / "_SummaryInformation.idt").write_bytes(summary.encode(CODEPAGE))
    return "_ForceCodepage.idt", "_SummaryInformation.idt"


def _summary_texts(names: Names, version: str) -> dict[str, str]:
    """The summary information's texts, by the ``Package`` attribute that sets them."""
    return {"Description": f"{names.product} {version}", "Manufacturer": names.company,
            "Comments": f"The SOS support button of {names.company}"}


def _stage_sources(folder: Path, module: Module, version: str,
                   folder_base: onedir.FolderBase | None = None) -> dict[str, Path]:
    """Copy what goes into the cabinet next to the WiX source, which names them relative to
    itself: wixl cannot take an absolute icon path, and its preprocessor would mangle a ``$``
    in the module's own path. With a folder base, ``contents`` is its ``_internal`` there."""
    files = {"exe": folder / "module.exe", "marker": folder / PACKAGE_MARKER}
    if folder_base:
        onedir.install_files(module, folder_base, files["exe"])
        files["contents"] = folder / onedir.CONTENTS
    else:
        shutil.copyfile(module.path, files["exe"])
    files["marker"].write_bytes(marker(module, installer="msi", package=module.product, version=version))
    for icon in ("app", "sos"):
        data = module.config.assets.get(f"{icon}.ico")
        if data:
            files[icon] = folder / f"{icon}.ico"
            files[icon].write_bytes(data)
    if "sos" not in files and "app" in files:
        files["sos"] = files["app"]
    return files


def _text(value: str) -> str:
    """An attribute value for wixl: its preprocessor reads ``$$`` as a literal ``$``."""
    return value.replace("$", "$$")


def _element(parent: ET.Element | None, tag: str, **attributes: str) -> ET.Element:
    qualified = f"{{{WIX_NAMESPACE}}}{tag}"
    values = {key: _text(value) for key, value in attributes.items()}
    return ET.Element(qualified, values) if parent is None else ET.SubElement(parent, qualified, values)


def wix_document(names: Names, *, version: str, codes: dict[str, str], files: dict[str, Path],
                 module_id: str) -> ET.Element:
    """The WiX source of the MSI (conditions and upgrade rules are added after wixl, see above).

    :param files: the sources by role (``exe``, ``marker``, icons ``app``, ``sos``, and the
        folder base's ``contents``), in the folder the WiX source is written to.
    """
    ET.register_namespace("", WIX_NAMESPACE)
    wix = _element(None, "Wix")
    product = _element(wix, "Product", Id=codes["product"], Name=names.product, Language="1033",
                       Codepage=str(CODEPAGE_NUMBER), Version=version, Manufacturer=names.company,
                       UpgradeCode=codes["upgrade"])
    _element(product, "Package", InstallerVersion="500", Compressed="yes", InstallScope="perMachine",
             SummaryCodepage=str(CODEPAGE_NUMBER), **_summary_texts(names, version))
    _element(product, "Media", Id="1", Cabinet="module.cab", EmbedCab="yes")
    _element(product, "MajorUpgrade", DowngradeErrorMessage="A newer version of [ProductName] is installed.")
    for icon in ("app", "sos"):
        if icon in files:
            _element(product, "Icon", Id=f"{icon}.ico", SourceFile=files[icon].name)
    if "app" in files:
        _element(product, "Property", Id="ARPPRODUCTICON", Value="app.ico")
    for name, default in PROPERTIES.items():
        _element(product, "Property", Id=name, Value=default)

    target = _element(product, "Directory", Id="TARGETDIR", Name="SourceDir")
    program_files = _element(target, "Directory", Id="ProgramFiles64Folder")
    company_dir = _element(program_files, "Directory", Id="CompanyFolder", Name=names.company_file)
    install_dir = _element(company_dir, "Directory", Id="INSTALLDIR", Name=names.product_file)
    menu_dir = _element(target, "Directory", Id="ProgramMenuFolder")
    desktop_dir = _element(target, "Directory", Id="DesktopFolder")

    components = []
    module_component = _component(install_dir, "Module", components)
    _element(module_component, "File", Id="ModuleExe", Name=names.exe, Source=files["exe"].name, KeyPath="yes")
    _element(module_component, "File", Id="PackageMarker", Name=PACKAGE_MARKER, Source=files["marker"].name)
    if "contents" in files:
        _add_folder(install_dir, files["contents"], files["contents"].parent, components)

    folder_component = _component(install_dir, "InstallFolder", components)
    _element(folder_component, "RemoveFolder", Id="RemoveInstallFolder", On="uninstall")
    _element(folder_component, "RegistryValue", Root="HKLM", Key=names.key, Name="ModuleId", Type="string",
             Value=module_id)
    _element(folder_component, "RegistryValue", Root="HKLM", Key=names.key, Name="InstallDir", Type="string",
             Value="[INSTALLDIR]", KeyPath="yes")
    company_component = _component(company_dir, "CompanyFolder", components)
    _element(company_component, "RemoveFolder", Id="RemoveCompanyFolder", On="uninstall")
    _element(company_component, "RegistryValue", Root="HKLM", Key=names.key, Name="CompanyFolder",
             Type="integer", Value="1", KeyPath="yes")

    exe = f"[INSTALLDIR]{names.exe}"
    menu_component = _component(menu_dir, "MenuShortcut", components)
    _shortcut(menu_component, "MenuShortcut", names.product_file, exe, "", files.get("app") and "app.ico")
    _element(menu_component, "RegistryValue", Root="HKLM", Key=names.key, Name="MenuShortcut", Type="integer",
             Value="1", KeyPath="yes")
    desktop_component = _component(desktop_dir, "DesktopShortcut", components)
    _shortcut(desktop_component, "DesktopShortcut", names.sos_file, exe, "--sos", files.get("sos") and "sos.ico")
    _element(desktop_component, "RegistryValue", Root="HKLM", Key=names.key, Name="DesktopShortcut",
             Type="integer", Value="1", KeyPath="yes")
    autostart_component = _component(install_dir, "Autostart", components)
    _element(autostart_component, "RegistryValue", Root="HKLM", Key=RUN_KEY, Name=names.sos_file, Type="string",
             Value=f'"{exe}" --tray', KeyPath="yes")
    policy_component = _component(target, "UpdatePolicy", components, guid=POLICY_COMPONENT)
    _element(policy_component, "RegistryValue", Root="HKLM", Key=updates.POLICY_REGISTRY_KEY,
             Name=updates.POLICY_REGISTRY_VALUE, Type="string", Value=f"[{updates.MSI_POLICY_PROPERTY}]", KeyPath="yes")

    feature = _element(product, "Feature", Id="Main", Level="1", Title=names.product)
    for component in components:
        _element(feature, "ComponentRef", Id=component)
    return wix


def _add_folder(parent: ET.Element, folder: Path, root: Path, components: list[str]) -> None:
    """``folder`` (under ``root``, the WiX source's folder) as a Directory, a component per file,
    so that each is installed, repaired and removed on its own."""
    relative = folder.relative_to(root).as_posix()
    directory = _element(parent, "Directory", Id=_identifier("Dir", relative), Name=folder.name)
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            _add_folder(directory, path, root, components)
        else:
            source = path.relative_to(root).as_posix()
            component = _component(directory, _identifier("Part", source), components)
            _element(component, "File", Id=_identifier("File", source), Name=path.name, Source=source, KeyPath="yes")


def _identifier(kind: str, relative: str) -> str:
    """An MSI identifier (letters, digits, ``_`` and ``.``, at most 72) for a path, stable between builds."""
    return f"{kind}_{hashlib.sha256(relative.encode()).hexdigest()[:32]}"


def _component(directory: ET.Element, component_id: str, components: list[str], *, guid: str = "*") -> ET.Element:
    components.append(component_id)
    return _element(directory, "Component", Id=component_id, Guid=guid, Win64="yes")


def _shortcut(component: ET.Element, shortcut_id: str, name: str, target: str, arguments: str,
              icon: str | None) -> None:
    attributes = {"Id": shortcut_id, "Name": name, "Target": target, "WorkingDirectory": "INSTALLDIR"}
    if arguments:
        attributes["Arguments"] = arguments
    if icon:
        attributes["Icon"] = icon
    _element(component, "Shortcut", **attributes)


def _fixups(version: str, upgrade: str) -> list[str]:
    """SQL for what wixl cannot write: component conditions, secure public properties, and
    upgrading over the same version (WiX's ``AllowSameVersionUpgrades``)."""
    queries = [f"UPDATE `Component` SET `Condition` = '{condition}' WHERE `Component` = '{component}'"
               for component, condition in CONDITIONS.items()]
    secure = ";".join([_WIXL_SECURE, *PROPERTIES, updates.MSI_POLICY_PROPERTY])
    queries.append(f"UPDATE `Property` SET `Value` = '{secure}' WHERE `Property` = 'SecureCustomProperties'")
    # Attributes is part of the Upgrade table's key, so the row is replaced, not updated.
    queries.append("DELETE FROM `Upgrade` WHERE `ActionProperty` = 'WIX_UPGRADE_DETECTED'")
    attributes = _UPGRADE_MIGRATE_FEATURES | _UPGRADE_VERSION_MAX_INCLUSIVE
    queries.append("INSERT INTO `Upgrade` (`UpgradeCode`, `VersionMax`, `Attributes`, `ActionProperty`) "
                   f"VALUES ('{upgrade}', '{version}', {attributes}, 'WIX_UPGRADE_DETECTED')")
    return queries


def _package(module: Module, out_dir: Path, *, version: str, onedir_base: Path | None) -> dict:
    folder_base = onedir.read_folder_base(onedir_base, module) if onedir_base else None
    built = build_msi(module, out_dir, version=version, folder_base=folder_base)
    return {"path": str(built.path), "product_code": built.product_code, "upgrade_code": built.upgrade_code,
            "version": built.version, "module_id": module.module_id, "form": "onedir" if folder_base else "onefile"}


FORMAT = Format(
    name="msi",
    platform=PLATFORM,
    suffix=SUFFIX,
    summary="Build a per-machine Windows MSI; DESKTOP_SHORTCUT, AUTOSTART and UPDATES switch its parts at install.",
    build=_package,
    options=(onedir.option,),
)
