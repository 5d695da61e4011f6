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
"""

import hashlib
import logging
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sosqueue import binaries, desktop_entry as entries, platforms
from sosqueue.platforms import file_name
from sosqueue.errors import ConfigError, OutputError
from builder.packaging import PACKAGE_MARKER, Module, marker, publish, staging
from builder.tools.dpkg_deb import DpkgDeb
from builder.tools.pyinstaller import bundled_binaries

log = logging.getLogger("sosqueue.builder")

_MENU_COMMENT = {"": "Ask your support team for help", "de": "Hilfe beim Support-Team anfordern"}
_SOS_COMMENT = {"": "Ask for help now", "de": "Jetzt Hilfe anfordern"}


@dataclass(frozen=True)
class BuiltDeb:
    """A finished package: where it is and what its control file says."""

    path: Path
    package: str
    version: str
    architecture: str
    depends: str


@dataclass(frozen=True)
class Layout:
    """Every name and path in the package, from the product name."""

    package: str
    product: str
    sos_name: str

    @classmethod
    def for_module(cls, module: Module) -> "Layout":
        try:
            return cls(package=platforms.identifier(module.product), product=platforms.display_name(module.product),
                       sos_name=platforms.sos_name(module.product))
        except ValueError as error:
            raise ConfigError(f"the product name cannot name a package ({error}); choose another product name") from None

    @property
    def install_dir(self) -> str:
        return f"/opt/{self.package}"

    @property
    def executable(self) -> str:
        return f"{self.install_dir}/{self.package}"

    @property
    def helper(self) -> str:
        return f"{self.install_dir}/desktop-shortcuts"

    @property
    def template(self) -> str:
        return f"{self.install_dir}/sos-shortcut.desktop"

    @property
    def shortcut_file(self) -> str:
        """The SOS shortcut's file name on the desktops, e.g. ``Acme Help SOS.desktop``."""
        return f"{file_name(self.sos_name)}.desktop"

    @property
    def menu_entry(self) -> str:
        return f"/usr/share/applications/{self.package}.desktop"

    @property
    def autostart_entry(self) -> str:
        return f"/etc/xdg/autostart/{self.package}.desktop"

    @property
    def skel_shortcut(self) -> str:
        return f"/etc/skel/Desktop/{self.shortcut_file}"

    @property
    def state_dir(self) -> str:
        return f"/var/lib/{self.package}"

    def icon(self, name: str) -> str:
        return f"{self.install_dir}/icons/{name}.png"


def build_deb(module: Module, out_dir: Path, *, version: str, autostart: bool = False,
              desktop_shortcut: bool = True, maintainer: str | None = None,
              tool: DpkgDeb | None = None) -> BuiltDeb:
    """Build ``<package>_<version>_<arch>.deb`` for a stamped Linux module into ``out_dir``.

    :raises ConfigError: if the module is not a Linux module, or names do not fit a package.
    :raises ToolMissing: if dpkg-deb is not installed.
    :raises ToolFailed: if dpkg-deb fails.
    :raises OutputError: if ``out_dir`` cannot be written.
    """
    if module.platform != "linux":
        raise ConfigError(f"{module.path} is a {module.platform} module; a .deb needs a module stamped onto a Linux base")
    tool = tool or DpkgDeb()
    tool.verify()
    layout = Layout.for_module(module)
    architecture = _architecture(module.path)
    glibc = minimum_glibc(module.path)
    depends = f"libc6 (>= {glibc})" if glibc else "libc6"
    target = out_dir / f"{layout.package}_{version}_{architecture}.deb"
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
        layout.product, [layout.executable], icon=app_icon, comments=_MENU_COMMENT,
        extra={"Categories": "Utility;", "Keywords": "help;support;SOS;", "Keywords[de]": "Hilfe;Support;SOS;"}))
    if autostart:
        _put(tree, layout.autostart_entry, desktop_entry(
            layout.product, [layout.executable, "--tray"], icon=app_icon, comments=_MENU_COMMENT,
            extra={"NoDisplay": "true", "X-GNOME-Autostart-enabled": "true"}))
    if desktop_shortcut:
        shortcut = desktop_entry(layout.sos_name, [layout.executable, "--sos"], icon=sos_icon, comments=_SOS_COMMENT)
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
    company = _one_line(company)
    where = "the application menu and an SOS button on every user's desktop" if desktop_shortcut else \
        "the application menu"
    return (
        f"{layout.product}: ask {company}'s support team for help\n"
        f" Puts {layout.product} into {where}.\n"
        f" One click opens a help request in {company}'s support queue; a supporter\n"
        " picks it up and gets in touch."
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- desktop entries ------------------------------------------------------------------------


def desktop_entry(name: str, command: list[str], *, icon: str | None, comments: dict[str, str],
                  extra: dict[str, str] | None = None) -> bytes:
    """A ``.desktop`` file that runs ``command``, and only if it is installed (``TryExec``)."""
    return entries.desktop_entry(name, command, icon=icon, comments=comments, extra=extra, try_exec=True).encode()


# --- maintainer scripts -------------------------------------------------------------------


def maintainer_scripts(layout: Layout) -> dict[str, str]:
    """``postinst``, ``prerm`` and ``postrm``: POSIX sh, ``set -e``, safe to run again."""
    helper = shlex.quote(layout.helper)
    state = shlex.quote(layout.state_dir)
    return {
        "postinst": _script(layout, "postinst", f"""\
case "$1" in
    configure|abort-upgrade|abort-remove|abort-deconfigure)
        {helper} configure
        ;;
esac
"""),
        "prerm": _script(layout, "prerm", f"""\
case "$1" in
    remove)
        if [ -x {helper} ]; then
            {helper} remove || echo "{layout.package}: some desktop shortcuts could not be removed" >&2
        fi
        ;;
esac
"""),
        "postrm": _script(layout, "postrm", f"""\
case "$1" in
    purge)
        rm -rf {state}
        ;;
    remove)
        rmdir {state} 2>/dev/null || true
        ;;
esac
"""),
    }


def _script(layout: Layout, name: str, body: str) -> str:
    return f"#!/bin/sh\n# {name} of {layout.package}\nset -e\n\n{body}\nexit 0\n"


def shortcut_helper(layout: Layout, *, wanted: bool) -> str:
    """The ``desktop-shortcuts`` script: its settings, then :data:`_HELPER_BODY`."""
    settings = {
        "PACKAGE": layout.package,
        "SHORTCUT_NAME": layout.shortcut_file,
        "TEMPLATE": layout.template,
        "STATE_DIR": layout.state_dir,
        "SELF": layout.helper,
        "WANTED": "1" if wanted else "0",
    }
    header = "".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items())
    return _HELPER_HEAD + header + _HELPER_BODY


_HELPER_HEAD = """\
#!/bin/sh
# The SOS shortcut on the desktop of every user of this computer, kept by the package's
# maintainer scripts:
#   configure  add a shortcut for each user who has none yet (or remove them all when the
#              package was built without shortcuts), refresh the ones that are still there
#   remove     remove the shortcuts listed in shortcuts.list, and unchanged copies that
#              users created since got from /etc/skel
# Each user's shortcut is written and removed by that user (runuser), never by root.
set -e

"""

_HELPER_BODY = r"""LIST="$STATE_DIR/shortcuts.list"
TAB=$(printf '\t')

log() {
    printf '%s: %s\n' "$PACKAGE" "$*" >&2
}

login_def() {
    value=$(awk -v key="$1" '$1 == key { value = $2 } END { print value }' /etc/login.defs 2>/dev/null || true)
    case $value in
        ''|*[!0-9]*) printf '%s\n' "$2" ;;
        *) printf '%s\n' "$value" ;;
    esac
}

# "name<TAB>home" of every local user who logs in: a uid from UID_MIN to UID_MAX, a home
# folder and a login shell. /etc/passwd only: a directory service could list thousands.
local_users() {
    uid_min=$(login_def UID_MIN 1000)
    uid_max=$(login_def UID_MAX 60000)
    while IFS=: read -r name _ uid _ _ home shell; do
        case $uid in ''|*[!0-9]*) continue ;; esac
        if [ "$uid" -lt "$uid_min" ] || [ "$uid" -gt "$uid_max" ]; then
            continue
        fi
        case $shell in */nologin|*/false) continue ;; esac
        case $home in ''|/|*"$TAB"*) continue ;; esac
        if [ -d "$home" ]; then
            printf '%s\t%s\n' "$name" "$home"
        fi
    done < /etc/passwd
}

as_user() {
    user=$1
    shift
    runuser -u "$user" -- "$SELF" "$@" < /dev/null
}

recorded_path() {
    if [ -f "$LIST" ]; then
        awk -F "$TAB" -v user="$1" '$1 == user { path = $2 } END { print path }' "$LIST"
    fi
}

configure() {
    if [ "$WANTED" != 1 ]; then
        remove
        return 0
    fi
    mkdir -p "$STATE_DIR"
    touch "$LIST"
    local_users | while IFS="$TAB" read -r name home; do
        recorded=$(recorded_path "$name")
        if [ -n "$recorded" ]; then
            as_user "$name" user-refresh "$recorded" || log "could not refresh $recorded"
        elif path=$(as_user "$name" user-install "$home"); then
            printf '%s\t%s\n' "$name" "$path" >> "$LIST"
        else
            log "no SOS shortcut for $name"
        fi
    done
}

remove() {
    if [ -f "$LIST" ]; then
        while IFS="$TAB" read -r name path; do
            case $path in */"$SHORTCUT_NAME") ;; *) continue ;; esac
            if id -u "$name" > /dev/null 2>&1; then
                as_user "$name" user-remove "$path" || log "could not remove $path"
            fi
        done < "$LIST"
    fi
    if [ -f "$TEMPLATE" ]; then
        local_users | while IFS="$TAB" read -r name home; do
            as_user "$name" user-remove-copy "$home" || log "could not check the desktop of $name"
        done
    fi
    rm -f "$LIST"
}

# --- run as the user ---------------------------------------------------------------------

# The desktop folder: XDG_DESKTOP_DIR from user-dirs.dirs ("$HOME/Schreibtisch" on a German
# system), else ~/Desktop.
desktop_dir() {
    value=""
    if [ -r "$1/.config/user-dirs.dirs" ]; then
        value=$(sed -n 's/^[[:space:]]*XDG_DESKTOP_DIR=//p' "$1/.config/user-dirs.dirs" | tail -n 1)
        value=${value#\"}
        value=${value%\"}
    fi
    # shellcheck disable=SC2016 # a literal $HOME, as user-dirs.dirs writes it
    case $value in
        '$HOME'|'$HOME/') printf '%s\n' "$1" ;;
        '$HOME/'*) printf '%s/%s\n' "$1" "${value#\$HOME/}" ;;
        /*) printf '%s\n' "$value" ;;
        *) printf '%s/Desktop\n' "$1" ;;
    esac
}

put_shortcut() {
    staged=$(mktemp "$(dirname -- "$1")/.sosqueue-shortcut.XXXXXX")
    if ! cp -- "$TEMPLATE" "$staged" || ! chmod 0755 "$staged" || ! mv -f -- "$staged" "$1"; then
        rm -f -- "$staged"
        return 1
    fi
    mark_trusted "$1"
}

# GNOME reads metadata::trusted, PCManFM and LXQt metadata::trust, Xfce a checksum. This
# needs the user's session bus; without one the desktop asks once before it runs the shortcut.
mark_trusted() {
    runtime="/run/user/$(id -u)"
    if [ ! -S "$runtime/bus" ] || ! command -v gio > /dev/null 2>&1; then
        return 0
    fi
    export XDG_RUNTIME_DIR="$runtime" DBUS_SESSION_BUS_ADDRESS="unix:path=$runtime/bus"
    checksum=$(sha256sum -- "$1" | cut -d ' ' -f 1)
    timeout 10 gio set -t string "$1" metadata::trusted true > /dev/null 2>&1 || return 0
    timeout 10 gio set -t string "$1" metadata::trust true > /dev/null 2>&1 || true
    timeout 10 gio set -t string "$1" metadata::xfce-exe-checksum "$checksum" > /dev/null 2>&1 || true
}

user_install() {
    dir=$(desktop_dir "$1")
    mkdir -p -- "$dir"
    put_shortcut "$dir/$SHORTCUT_NAME"
    printf '%s\n' "$dir/$SHORTCUT_NAME"
}

user_refresh() {
    if [ -f "$1" ] && [ ! -L "$1" ]; then
        put_shortcut "$1"
    fi
}

user_remove() {
    if [ -f "$1" ] && [ ! -L "$1" ]; then
        rm -f -- "$1"
    fi
}

user_remove_copy() {
    shortcut="$(desktop_dir "$1")/$SHORTCUT_NAME"
    if [ -f "$shortcut" ] && [ ! -L "$shortcut" ] && cmp -s -- "$shortcut" "$TEMPLATE"; then
        rm -f -- "$shortcut"
    fi
}

cd /
command=${1:-}
[ $# -eq 0 ] || shift
case $command in
    configure) configure ;;
    remove) remove ;;
    user-install) user_install "$1" ;;
    user-refresh) user_refresh "$1" ;;
    user-remove) user_remove "$1" ;;
    user-remove-copy) user_remove_copy "$1" ;;
    *)
        echo "usage: $0 configure|remove" >&2
        exit 2
        ;;
esac
"""


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
