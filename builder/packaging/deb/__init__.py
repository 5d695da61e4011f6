"""The ``.deb`` package: the module under ``/opt``, a menu entry, autostart, and an SOS
shortcut on the desktop of every user.

Layout, with ``P`` the package name (``sosqueue-`` and the product name as a slug, the same id
the agent gives its own menu and autostart entries, so that a user's entry replaces the
system one instead of showing twice)::

    /opt/P/P                                  the module (0755)
    /opt/P/_internal/                         its libraries, when built from a folder base (--onedir-base)
    /opt/P/icons/app.png, sos.png             its icons
    /opt/P/sos-shortcut.desktop               the SOS shortcut every user gets a copy of
    /opt/P/desktop-shortcuts                  adds and removes the users' copies (sh)
    /opt/P/sosqueue-package.json              tells the agent that a package set it up
    /usr/share/applications/P.desktop         the menu entry
    /usr/share/doc/P/copyright, changelog.gz  what Debian policy asks of every package
    /etc/xdg/autostart/P.desktop              the tray at every login (Hidden=true without --autostart)
    /etc/xdg/autostart/P-sos-shortcut.desktop runs ``desktop-shortcuts login`` at every login
    /var/lib/P/shortcuts.list                 the users' shortcuts the package created

Every file under ``/etc`` is a conffile (``DEBIAN/conffiles``): an admin's edit survives an
upgrade, ``dpkg -r`` leaves them and ``dpkg -P`` removes them. Both entries are always shipped
and switched on or off inside (``Hidden=true``), so a build with other options changes them
instead of leaving an obsolete conffile behind; their ``TryExec`` keeps them from running
anything once the package is removed but not purged.

The SOS shortcut: the maintainer scripts call ``desktop-shortcuts``, which for every local user
(``UID_MIN`` to ``UID_MAX`` from ``/etc/login.defs``, with a home folder and a login shell; root
is left out) writes ``<Product> SOS.desktop`` into the user's desktop folder (``XDG_DESKTOP_DIR``
from ``~/.config/user-dirs.dirs``, else ``~/Desktop``) *as that user* (``runuser``), so a link
planted in a home folder can never make root write or remove anything elsewhere. A user
created later has no home yet at install time: the ``P-sos-shortcut`` autostart entry runs
``desktop-shortcuts login`` in their session, which makes their shortcut once (a per-user
record in ``~/.local/state/P`` keeps a deleted shortcut deleted).

The data archive has no entry for ``/opt`` itself (dpkg would count the package as an owner of
``/opt`` and warn on purge that it cannot remove it); ``preinst`` makes ``/opt`` if a system
has none. :data:`~builder.packaging.deb.lintian.ALLOWED_TAGS` lists the lintian tags such a
package still gets, and why each is acceptable.

Updates: the marker makes the module machine-wide, so it never replaces itself; it tells the
customer when its queue has a newer agent, and IT ships the new version as a newer package.
IT's policy for every module on the computer is ``/etc/sosqueue/policy.toml``
(:data:`sosqueue.updates.POLICY_FILES`, ``[updates] mode = "off"``), which IT writes: no
package ships it, as two companies' packages would both own it and conflict.

The helper is ``desktop-shortcuts.sh`` in this package's data (:mod:`.scripts` fills in its
settings); the texts people see, with their German translations, are in :mod:`.texts`.
"""

import email.utils
import gzip
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import textwrap
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click

from sosqueue import binaries, desktop_entry as entries
from sosqueue.desktop_entry import WINDOW_CLASS, localized_keys
from sosqueue.errors import ConfigError, OutputError
from sosqueue.platforms import Platform
from builder.packaging.deb import texts
from builder.packaging.deb.layout import Layout
from builder.packaging.deb.scripts import maintainer_scripts, shortcut_helper
from builder.packaging.format import Format
from builder.packaging import onedir
from builder.packaging.module import PACKAGE_MARKER, Module, marker
from builder.packaging.output import publish, staging
from builder.tools.dpkg_deb import DpkgDeb
from builder.tools.pyinstaller import bundled_binaries

log = logging.getLogger("sosqueue.builder")

PLATFORM = Platform.LINUX
SUFFIX = ".deb"

#: ``Name <address>`` as Debian policy 5.6.2 wants the Maintainer field: a name, one e-mail address.
MAINTAINER_PATTERN = re.compile(r"^[^<>,@\s][^<>,@]*? <[^<>@\s]+@[^<>@\s]+\.[^<>@\s.]+>$")
#: Directories that are the system's, not the package's: left out of the data archive.
SYSTEM_DIRECTORIES = ("./opt/",)
#: The desktop's libraries the base agent loads from the system instead of carrying them
#: (``system_libraries`` in build_scripts/sosqueue-agent.spec): X11 and the extensions Tk draws
#: with, and fontconfig, which brings FreeType, expat, libpng and zlib.
DESKTOP_LIBRARIES = ("libx11-6", "libxext6", "libxrender1", "libfontconfig1")


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
              folder_base: onedir.FolderBase | None = None, tool: DpkgDeb | None = None) -> BuiltDeb:
    """Build ``<package>_<version>_<arch>.deb`` for a stamped Linux module into ``out_dir``.

    With ``folder_base`` the package installs the module in the folder form, which starts
    faster (:mod:`builder.packaging.onedir`): the folder's program with the module's payload.

    :raises ConfigError: if names do not fit a package, or the Maintainer is missing or malformed.
    :raises ToolMissing: if dpkg-deb is not installed.
    :raises ToolFailed: if dpkg-deb fails.
    :raises OutputError: if ``out_dir`` cannot be written.
    """
    maintainer = maintainer_field(module, maintainer)
    tool = tool or DpkgDeb()
    tool.verify()
    layout = Layout.for_module(module)
    program = folder_base.program(module) if folder_base else module.path
    architecture = _architecture(program)
    glibc = minimum_glibc(program, onedir.libraries(folder_base) if folder_base else None)
    depends = ", ".join((f"libc6 (>= {glibc})" if glibc else "libc6", *DESKTOP_LIBRARIES))
    target = out_dir / f"{layout.package}_{version}_{architecture}{SUFFIX}"
    log.info("packaging %s %s for %s (%s)…", layout.package, version, architecture, depends)
    with staging(out_dir) as scratch:
        tree = scratch / "tree"
        try:
            _write_tree(tree, module, layout, version=version, autostart=autostart, desktop_shortcut=desktop_shortcut,
                        maintainer=maintainer, folder_base=folder_base)
            _write_control(tree, module, layout, version=version, architecture=architecture, depends=depends,
                           maintainer=maintainer, desktop_shortcut=desktop_shortcut)
        except OSError as error:
            raise OutputError(f"cannot stage the package in {out_dir} ({error.strerror or error}); "
                              "free some space or choose another --out") from None
        built = scratch / target.name
        # gzip: the module is mostly PyInstaller's compressed archive, which dpkg-deb's default
        # xz shrinks by 0.2 % in 35 s instead of gzip's 1 s.
        tool.build(tree, built, compression="gzip")
        _drop_directory_entries(built, SYSTEM_DIRECTORIES)
        publish(built, target)
    log.info("package ready: %s", target)
    return BuiltDeb(path=target, package=layout.package, version=version, architecture=architecture, depends=depends)


# --- the file tree ------------------------------------------------------------------------


def _write_tree(tree: Path, module: Module, layout: Layout, *, version: str, autostart: bool,
                desktop_shortcut: bool, maintainer: str, folder_base: onedir.FolderBase | None = None) -> None:
    if folder_base:
        program = tree / layout.executable.lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        onedir.install_files(module, folder_base, program)
    else:
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
    window = {"StartupWMClass": WINDOW_CLASS}
    _put(tree, layout.menu_entry, desktop_entry(
        layout.product, [layout.executable], icon=app_icon, comments=texts.MENU_COMMENT,
        extra={"Categories": "Utility;", **localized_keys("Keywords", texts.MENU_KEYWORDS), **window}))
    _put(tree, layout.autostart_entry, desktop_entry(
        layout.product, [layout.executable, "--tray"], icon=app_icon, comments=texts.MENU_COMMENT,
        extra={"NoDisplay": "true", **_autostart_switch(autostart), **window}))
    _put(tree, layout.login_entry, desktop_entry(
        layout.sos_name, [layout.helper, "login"], icon=sos_icon, comments=texts.SOS_COMMENT,
        extra={"NoDisplay": "true", **_autostart_switch(desktop_shortcut)}))
    if desktop_shortcut:
        _put(tree, layout.template, desktop_entry(layout.sos_name, [layout.executable, "--sos"], icon=sos_icon,
                                                  comments=texts.SOS_COMMENT, extra=window))
    _put(tree, layout.helper, shortcut_helper(layout, wanted=desktop_shortcut).encode(), mode=0o755)
    _put(tree, f"{layout.doc_dir}/copyright", copyright_file(module, layout).encode())
    _put(tree, f"{layout.doc_dir}/changelog.gz", changelog(layout, version=version, maintainer=maintainer))
    for name, text in maintainer_scripts(layout).items():
        _put(tree, f"DEBIAN/{name}", text.encode(), mode=0o755)
    _put(tree, "DEBIAN/conffiles", "".join(f"/{path}\n" for path in _etc_files(tree)).encode())
    _put(tree, "DEBIAN/md5sums", _md5sums(tree))
    for folder in [tree, *(path for path in tree.rglob("*") if path.is_dir())]:
        folder.chmod(0o755)  # the staging folder is private (0700); the package's folders are not


def _autostart_switch(enabled: bool) -> dict[str, str]:
    """An autostart entry switched on, or off (``Hidden=true``: "deleted", in the Desktop
    Application Autostart Specification) so an admin can switch it on by editing one line."""
    return {"X-GNOME-Autostart-enabled": "true"} if enabled else {"Hidden": "true"}


def _etc_files(tree: Path) -> list[str]:
    return sorted(path.relative_to(tree).as_posix() for path in (tree / "etc").rglob("*") if path.is_file())


def build_time() -> int:
    """When the package is built: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    return int(os.environ.get("SOURCE_DATE_EPOCH") or time.time())


def copyright_file(module: Module, layout: Layout) -> str:
    """``/usr/share/doc/P/copyright`` in the machine-readable format (DEP-5)."""
    company = _one_line(module.config.brand.company)
    year = time.gmtime(build_time()).tm_year
    return (f"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
            f"Upstream-Name: {layout.product}\n"
            f"Comment: {texts.COPYRIGHT_COMMENT.format(product=layout.product, company=company)}\n"
            f"\n"
            f"Files: *\n"
            f"Copyright: {year} {company}\n"
            f"License: custom\n"
            f" {texts.LICENSE_TEXT.format(company=company)}\n")


def changelog(layout: Layout, *, version: str, maintainer: str) -> bytes:
    """``changelog.gz``: one entry for this version, compressed the way dpkg-buildpackage does (gzip -9n)."""
    stamp = build_time()
    text = (f"{layout.package} ({version}) unstable; urgency=medium\n\n"
            f"  * {texts.CHANGELOG_ENTRY.format(product=layout.product, version=version)}\n\n"
            f" -- {maintainer}  {email.utils.formatdate(stamp)}\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as compressed:
        compressed.write(text.encode())
    return buffer.getvalue()


def maintainer_field(module: Module, maintainer: str | None) -> str:
    """The Maintainer field: ``maintainer`` if it is ``Name <address>``, else a ``ConfigError``.

    A module configuration carries no support address today; without ``--maintainer`` the
    package is refused rather than given a contact nobody reads.
    """
    if maintainer is None:
        raise ConfigError(f"the module of {_one_line(module.config.brand.company)} names no support address for the "
                          "package's Maintainer; pass --maintainer 'Your IT <it@example.com>'")
    field = _one_line(maintainer)
    if not MAINTAINER_PATTERN.match(field):
        raise ConfigError(f"--maintainer {maintainer!r} is not 'Name <address>'; "
                          "pass e.g. --maintainer 'Acme IT <it@acme.example>'")
    return field


def _drop_directory_entries(deb: Path, directories: tuple[str, ...]) -> None:
    """Rewrite ``deb`` without the data archive's entries for ``directories`` (``./opt/``):
    dpkg-deb lists every parent folder, which makes the package an owner of ``/opt``."""
    members = _ar_members(deb.read_bytes())
    name = next(name for name in members if name.startswith("data.tar"))
    if name != "data.tar.gz":
        raise RuntimeError(f"{deb} has {name}; expected data.tar.gz")
    source = io.BytesIO(gzip.decompress(members[name]))
    target = io.BytesIO()
    with tarfile.open(fileobj=source, mode="r:") as old, \
            tarfile.open(fileobj=target, mode="w:", format=tarfile.GNU_FORMAT) as new:
        for entry in old:
            if entry.name in directories or f"{entry.name}/" in directories:
                continue
            new.addfile(entry, old.extractfile(entry) if entry.isfile() else None)
    members[name] = gzip.compress(target.getvalue(), compresslevel=9, mtime=0)
    deb.write_bytes(_ar_archive(members))


def _ar_members(data: bytes) -> dict[str, bytes]:
    if not data.startswith(b"!<arch>\n"):
        raise RuntimeError("not an ar archive")
    members, offset = {}, 8
    while offset < len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def _ar_archive(members: dict[str, bytes]) -> bytes:
    parts = [b"!<arch>\n"]
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        parts += [header, data, b"\n" if len(data) % 2 else b""]
    return b"".join(parts)


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
        if path.is_file() and not path.is_symlink() and relative.parts[0] != "DEBIAN":
            lines.append(f"{hashlib.md5(path.read_bytes()).hexdigest()}  {relative.as_posix()}\n")
    return "".join(lines).encode()


def _installed_size(tree: Path) -> int:
    """Installed-Size in KiB, as dpkg-gencontrol counts it: whole KiB per file."""
    return sum(-(-path.stat().st_size // 1024) for path in tree.rglob("*")
               if path.is_file() and path.relative_to(tree).parts[0] != "DEBIAN")


def _write_control(tree: Path, module: Module, layout: Layout, *, version: str, architecture: str,
                   depends: str, maintainer: str, desktop_shortcut: bool) -> None:
    company = module.config.brand.company
    fields = {
        "Package": layout.package,
        "Version": version,
        "Architecture": architecture,
        "Maintainer": maintainer,
        "Installed-Size": str(_installed_size(tree)),
        "Depends": depends,
        "Section": "utils",
        "Priority": "optional",
        "Description": _description(layout, company, desktop_shortcut=desktop_shortcut),
    }
    _put(tree, "DEBIAN/control", "".join(f"{key}: {value}\n" for key, value in fields.items()).encode())


def _description(layout: Layout, company: str, *, desktop_shortcut: bool) -> str:
    where = texts.WHERE_WITH_SHORTCUT if desktop_shortcut else texts.WHERE_MENU_ONLY
    synopsis = texts.SYNOPSIS.format(product=layout.product, company=_one_line(company))
    body = texts.DESCRIPTION.format(product=layout.product, company=_one_line(company), where=where)
    return synopsis + "\n" + textwrap.fill(body, width=79, initial_indent=" ", subsequent_indent=" ")


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


def minimum_glibc(path: Path, libraries: Iterable[bytes] | None = None) -> str | None:
    """The newest ``GLIBC_x.y`` version the module's program needs, or ``None`` if it needs none.

    The libraries it loads count as well: ``libraries``, else those a PyInstaller one-file
    program unpacks at start, read from its archive when PyInstaller is installed.
    """
    needed = binaries.file_glibc_versions(path)
    for library in bundled_binaries(path) if libraries is None else libraries:
        needed |= binaries.glibc_versions(library)
    return binaries.version_text(max(needed)) if needed else None


# --- the command ----------------------------------------------------------------------------


def _package(module: Module, out_dir: Path, *, version: str, autostart: bool, no_shortcut: bool,
             maintainer: str | None, onedir_base: Path | None) -> dict:
    folder_base = onedir.read_folder_base(onedir_base, module) if onedir_base else None
    built = build_deb(module, out_dir, version=version, autostart=autostart, desktop_shortcut=not no_shortcut,
                      maintainer=maintainer, folder_base=folder_base)
    return {"path": str(built.path), "package": built.package, "version": built.version,
            "architecture": built.architecture, "depends": built.depends, "module_id": module.module_id,
            "form": "onedir" if folder_base else "onefile"}


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
                     help="The package's Maintainer: 'Name <address>', e.g. 'Acme IT <it@acme.example>' (required: "
                          "the module names no support address)."),
        onedir.option,
    ),
)
