"""The ``.deb`` package: the module under ``/opt``, a menu entry, optional autostart, and an SOS
shortcut on the desktop of every user.

Layout, with ``P`` the package name (``sosqueue-`` and the product name as a slug, the same id
the agent gives its own menu and autostart entries, so that a user's entry replaces the
system one instead of showing twice)::

    /opt/P/P                                  the module (0755)
    /opt/P/icons/app.png, sos.png             its icons
    /opt/P/sos-shortcut.desktop               the SOS shortcut every user gets a copy of
    /opt/P/desktop-shortcuts                  adds and removes the users' copies (sh)
    /opt/P/sosqueue-package.json              tells the agent that a package set it up
    /usr/share/applications/P.desktop         the menu entry
    /etc/xdg/autostart/P.desktop              with --autostart: the tray at every login
    /etc/skel/Desktop/<Product> SOS.desktop   the shortcut for users created later
    /var/lib/P/shortcuts.list                 the users' shortcuts the package created

The files under ``/etc`` are not conffiles: they are generated, and ``dpkg -r`` must remove
them (an autostart entry left behind would point at a removed program).

The maintainer scripts call ``desktop-shortcuts``: for every local user (``UID_MIN`` to
``UID_MAX`` from ``/etc/login.defs``, with a home folder and a login shell; root is left out)
it writes ``<Product> SOS.desktop`` into the user's desktop folder (``XDG_DESKTOP_DIR`` from
``~/.config/user-dirs.dirs``, else ``~/Desktop``) *as that user* (``runuser``), so a link
planted in a home folder can never make root write or remove anything elsewhere.

The helper is ``desktop-shortcuts.sh`` in this package's data (:mod:`.scripts` fills in its
settings); the texts people see, with their German translations, are in :mod:`.texts`.
"""

import hashlib
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import click

from sosqueue import binaries, desktop_entry as entries
from sosqueue.desktop_entry import localized_keys
from sosqueue.errors import ConfigError, OutputError
from sosqueue.platforms import Platform
from builder.packaging.deb import texts
from builder.packaging.deb.layout import Layout
from builder.packaging.deb.scripts import maintainer_scripts, shortcut_helper
from builder.packaging.format import Format
from builder.packaging.module import PACKAGE_MARKER, Module, marker
from builder.packaging.output import publish, staging
from builder.tools.dpkg_deb import DpkgDeb
from builder.tools.pyinstaller import bundled_binaries

log = logging.getLogger("sosqueue.builder")

PLATFORM = Platform.LINUX
SUFFIX = ".deb"


@dataclass(frozen=True)
class BuiltDeb:
    """A finished package: where it is and what its control file says."""

    path: Path
    package: str
    version: str
    architecture: str
    depends: str


def build_deb(module: Module, out_dir: Path, *, version: str, autostart: bool = False,
              desktop_shortcut: bool = True, maintainer: str | None = None,
              tool: DpkgDeb | None = None) -> BuiltDeb:
    """Build ``<package>_<version>_<arch>.deb`` for a stamped Linux module into ``out_dir``.

    :raises ConfigError: if the module is not a Linux module, or names do not fit a package.
    :raises ToolMissing: if dpkg-deb is not installed.
    :raises ToolFailed: if dpkg-deb fails.
    :raises OutputError: if ``out_dir`` cannot be written.
    """
    if module.platform != PLATFORM:
        raise ConfigError(f"{module.path} is a {module.platform} module; a .deb needs a module stamped onto a Linux base")
    tool = tool or DpkgDeb()
    tool.verify()
    layout = Layout.for_module(module)
    architecture = _architecture(module.path)
    glibc = minimum_glibc(module.path)
    depends = f"libc6 (>= {glibc})" if glibc else "libc6"
    target = out_dir / f"{layout.package}_{version}_{architecture}{SUFFIX}"
    log.info("packaging %s %s for %s (%s)…", layout.package, version, architecture, depends)
    with staging(out_dir) as scratch:
        tree = scratch / "tree"
        try:
            _write_tree(tree, module, layout, version=version, autostart=autostart, desktop_shortcut=desktop_shortcut)
            _write_control(tree, module, layout, version=version, architecture=architecture, depends=depends,
                           maintainer=maintainer, desktop_shortcut=desktop_shortcut)
        except OSError as error:
            raise OutputError(f"cannot stage the package in {out_dir} ({error.strerror or error}); "
                              "free some space or choose another --out") from None
        built = scratch / target.name
        # gzip: the module is mostly PyInstaller's compressed archive, which dpkg-deb's default
        # xz shrinks by 0.2 % in 35 s instead of gzip's 1 s.
        tool.build(tree, built, compression="gzip")
        publish(built, target)
    log.info("package ready: %s", target)
    return BuiltDeb(path=target, package=layout.package, version=version, architecture=architecture, depends=depends)


# --- the file tree ------------------------------------------------------------------------


def _write_tree(tree: Path, module: Module, layout: Layout, *, version: str, autostart: bool,
                desktop_shortcut: bool) -> None:
    _copy(module.path, tree, layout.executable)
    icons = {}
    for name in ("app", "sos"):
        if f"{name}.png" in module.config.assets:
            _put(tree, layout.icon(name), module.config.assets[f"{name}.png"])
            icons[name] = layout.icon(name)
    app_icon = icons.get("app") or icons.get("sos")
    sos_icon = icons.get("sos") or app_icon
    _put(tree, f"{layout.install_dir}/{PACKAGE_MARKER}",
         marker(module, installer="deb", package=layout.package, version=version))
    _put(tree, layout.menu_entry, desktop_entry(
        layout.product, [layout.executable], icon=app_icon, comments=texts.MENU_COMMENT,
        extra={"Categories": "Utility;", **localized_keys("Keywords", texts.MENU_KEYWORDS)}))
    if autostart:
        _put(tree, layout.autostart_entry, desktop_entry(
            layout.product, [layout.executable, "--tray"], icon=app_icon, comments=texts.MENU_COMMENT,
            extra={"NoDisplay": "true", "X-GNOME-Autostart-enabled": "true"}))
    if desktop_shortcut:
        shortcut = desktop_entry(layout.sos_name, [layout.executable, "--sos"], icon=sos_icon, comments=texts.SOS_COMMENT)
        _put(tree, layout.template, shortcut)
        _put(tree, layout.skel_shortcut, shortcut, mode=0o755)
    _put(tree, layout.helper, shortcut_helper(layout, wanted=desktop_shortcut).encode(), mode=0o755)
    for name, text in maintainer_scripts(layout).items():
        _put(tree, f"DEBIAN/{name}", text.encode(), mode=0o755)
    _put(tree, "DEBIAN/md5sums", _md5sums(tree))
    for folder in [tree, *(path for path in tree.rglob("*") if path.is_dir())]:
        folder.chmod(0o755)  # the staging folder is private (0700); the package's folders are not


def _put(tree: Path, path: str, data: bytes, *, mode: int = 0o644) -> Path:
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)
    return target


def _copy(source: Path, tree: Path, path: str) -> None:
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o755)


def _md5sums(tree: Path) -> bytes:
    lines = []
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree)
        if path.is_file() and relative.parts[0] != "DEBIAN":
            lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative.as_posix()}\n")
    return "".join(lines).encode()


def _installed_size(tree: Path) -> int:
    """Installed-Size in KiB, as dpkg-gencontrol counts it: whole KiB per file."""
    return sum(-(-path.stat().st_size // 1024) for path in tree.rglob("*")
               if path.is_file() and path.relative_to(tree).parts[0] != "DEBIAN")


def _write_control(tree: Path, module: Module, layout: Layout, *, version: str, architecture: str,
                   depends: str, maintainer: str | None, desktop_shortcut: bool) -> None:
    company = module.config.brand.company
    fields = {
        "Package": layout.package,
        "Version": version,
        "Architecture": architecture,
        "Maintainer": _one_line(maintainer or company),
        "Installed-Size": str(_installed_size(tree)),
        "Depends": depends,
        "Section": "utils",
        "Priority": "optional",
        "Description": _description(layout, company, desktop_shortcut=desktop_shortcut),
    }
    _put(tree, "DEBIAN/control", "".join(f"{key}: {value}\n" for key, value in fields.items()).encode())


def _description(layout: Layout, company: str, *, desktop_shortcut: bool) -> str:
    where = texts.WHERE_WITH_SHORTCUT if desktop_shortcut else texts.WHERE_MENU_ONLY
    return texts.DESCRIPTION.format(product=layout.product, company=_one_line(company), where=where)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- desktop entries ------------------------------------------------------------------------


def desktop_entry(name: str, command: list[str], *, icon: str | None, comments: dict[str, str],
                  extra: dict[str, str] | None = None) -> bytes:
    """A ``.desktop`` file that runs ``command``, and only if it is installed (``TryExec``)."""
    return entries.desktop_entry(name, command, icon=icon, comments=comments, extra=extra, try_exec=True).encode()


# --- architecture and glibc -----------------------------------------------------------------


def _architecture(path: Path) -> str:
    """The Debian architecture of the module's program, or this computer's for a machine not listed."""
    header = binaries.elf_header(path)
    if header and header.debian_architecture:
        return header.debian_architecture
    if header:
        log.warning("unknown ELF machine %d in %s; using this computer's architecture", header.machine, path)
    return host_architecture()


def host_architecture() -> str:
    """``dpkg --print-architecture``: the architecture this computer installs packages for."""
    try:
        result = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise ConfigError(f"cannot tell the package architecture ({error}); build on a Debian-based system") from None
    return result.stdout.strip()


def minimum_glibc(path: Path) -> str | None:
    """The newest ``GLIBC_x.y`` version the module's program needs, or ``None`` if it needs none.

    A PyInstaller one-file program unpacks its Python and libraries at start, so their needs
    count as well; they are read from its archive when PyInstaller is installed.
    """
    needed = binaries.file_glibc_versions(path)
    for library in bundled_binaries(path):
        needed |= binaries.glibc_versions(library)
    return binaries.version_text(max(needed)) if needed else None


# --- the command ----------------------------------------------------------------------------


def _package(module: Module, out_dir: Path, *, version: str, autostart: bool, no_shortcut: bool,
             maintainer: str | None) -> dict:
    built = build_deb(module, out_dir, version=version, autostart=autostart, desktop_shortcut=not no_shortcut,
                      maintainer=maintainer)
    return {"path": str(built.path), "package": built.package, "version": built.version,
            "architecture": built.architecture, "depends": built.depends, "module_id": module.module_id}


FORMAT = Format(
    name="deb",
    platform=PLATFORM,
    suffix=SUFFIX,
    summary="Build a .deb that installs the module for every user of a Linux computer.",
    build=_package,
    options=(
        click.option("--autostart/--no-autostart", default=False, show_default=True,
                     help="Start the agent in the tray at every login."),
        click.option("--no-desktop-shortcut", "no_shortcut", is_flag=True,
                     help="No SOS shortcut on the users' desktops (the menu entry stays)."),
        click.option("--maintainer",
                     help="The package's Maintainer field, e.g. 'Acme IT <it@acme.example>' (default: the brand's company)."),
    ),
)
