"""``sosqueue package deb``: the package's files, control fields and scripts, a real ``dpkg -i``
with users on the machine, and clean ``dpkg -r`` / ``dpkg -P``."""

import dataclasses
import gzip
import hashlib
import json
import os
import pwd
import signal
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from sosqueue import module_config
from sosqueue import payload, updates
from sosqueue.binaries import elf_architecture
from sosqueue.errors import ConfigError, ExitCode, ToolFailed, ToolMissing
from sosqueue.platforms import Platform
from builder.packaging.module import read_module
from builder.packaging import check_platform, deb, onedir
from builder.packaging.deb import DESKTOP_LIBRARIES, build_deb, minimum_glibc
from builder.packaging.deb.lintian import ALLOWED_TAGS, unexpected
from sosqueue.desktop_entry import WINDOW_CLASS
from builder.tools.dpkg_deb import DpkgDeb
from tests.builder.packaging import (TRUE, assert_refused, damage, entries, plain_copy, run_cli, stamp_module,
                                     unique_product)
from tests.support.polling import eventually
from tests.support.tools import require_tool

HAS_DPKG_DEB = shutil.which("dpkg-deb") is not None
HAS_DPKG = shutil.which("dpkg") is not None and hasattr(os, "geteuid") and os.geteuid() == 0
HAS_OBJDUMP = shutil.which("objdump") is not None
HAS_GVFS_METADATA = bool(shutil.which("gio") and shutil.which("dbus-daemon")) and any(
    Path(folder, "gvfsd-metadata").exists() for folder in ("/usr/libexec", "/usr/lib/gvfs"))

pytestmark = pytest.mark.skipif(not HAS_DPKG_DEB, reason="dpkg-deb is not installed")
needs_dpkg = pytest.mark.skipif(not HAS_DPKG, reason="installing a package needs dpkg and root")


def slug(product: str) -> str:
    return "sosqueue-" + re.sub(r"[^a-z0-9]+", "-", product.lower()).strip("-")


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True, check=True).stdout.strip()


def deb_listing(deb: Path) -> dict[str, str]:
    """Path (without the leading ``.``) → ``ls``-style mode string, from ``dpkg-deb -c``."""
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in listing.splitlines():
        mode, _, _, _, _, path = line.split(None, 5)
        found[path.removeprefix(".").rstrip("/") or "/"] = mode
    return found


def deb_file(deb: Path, path: str) -> bytes:
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True, check=True).stdout
    return subprocess.run(["tar", "-xO", f".{path}"], input=tar, capture_output=True, check=True).stdout


def control_file(deb: Path, name: str, folder: Path) -> Path:
    subprocess.run(["dpkg-deb", "-e", deb, folder], check=True)
    return folder / name


def installed_status(package: str) -> str | None:
    result = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", package], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


@dataclass
class User:
    name: str
    uid: int
    home: Path


class Machine:
    """This (throwaway, root) machine: packages installed and users added by a test, undone after."""

    def __init__(self):
        self.packages: list[str] = []
        self.users: list[User] = []
        self._desktops_before = {home for home in self._homes() if (home / "Desktop").exists()}

    def install(self, deb: Path) -> subprocess.CompletedProcess:
        self.packages.append(deb_field(deb, "Package"))
        return self.dpkg("-i", str(deb))

    def dpkg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run dpkg, waiting while another dpkg (another test run, apt) holds its lock."""
        result = eventually(lambda: _unlocked(subprocess.run(["dpkg", *args], capture_output=True, text=True)),
                            what="the dpkg lock")
        if check and result.returncode != 0:
            raise AssertionError(f"dpkg {' '.join(args)} failed: {result.stderr}")
        return result

    def add_user(self, desktop: str | None = None) -> User:
        """A new local user with a home; ``desktop`` sets XDG_DESKTOP_DIR in user-dirs.dirs."""
        name = f"sosqt{secrets.token_hex(3)}"
        uid = next(uid for uid in range(21000 + secrets.randbelow(20000), 60000) if not _uid_exists(uid))
        subprocess.run(["useradd", "-m", "-u", str(uid), "-s", "/bin/sh", name], check=True, capture_output=True)
        user = User(name=name, uid=uid, home=Path(pwd.getpwnam(name).pw_dir))
        self.users.append(user)
        if desktop is not None:
            config = user.home / ".config"
            config.mkdir()
            (config / "user-dirs.dirs").write_text(f'# written by the test\nXDG_DESKTOP_DIR="{desktop}"\n')
            shutil.chown(config, user.name, user.name)
            shutil.chown(config / "user-dirs.dirs", user.name, user.name)
        return user

    def clean(self) -> None:
        for package in reversed(self.packages):
            self.dpkg("-P", package, check=False)
        for user in self.users:
            subprocess.run(["userdel", "-r", user.name], capture_output=True)
        for home in self._homes():
            desktop = home / "Desktop"
            if home not in self._desktops_before and desktop.is_dir() and not any(desktop.iterdir()):
                desktop.rmdir()  # the package made it for a user of this machine; put it back as it was

    @staticmethod
    def _homes() -> set[Path]:
        return {Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_uid >= 1000 and entry.pw_dir not in ("", "/")}


def _unlocked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess | None:
    return None if result.returncode != 0 and "lock" in result.stderr else result


def _uid_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


@pytest.fixture
def machine():
    """Installs packages and adds users; purges and deletes them afterwards, even on failure."""
    state = Machine()
    yield state
    state.clean()


@pytest.fixture
def start_session_bus(machine):
    """Starts a D-Bus session bus for a user at /run/user/UID/bus, as a login would; stops it after."""
    started: list[tuple[User, int]] = []

    def start(user: User) -> Path:
        runtime = Path(f"/run/user/{user.uid}")
        runtime.mkdir(mode=0o700, parents=True)
        shutil.chown(runtime, user.name, user.name)
        pid = subprocess.run(["runuser", "-u", user.name, "--", "dbus-daemon", "--session", "--fork", "--print-pid",
                              f"--address=unix:path={runtime}/bus"], capture_output=True, text=True, check=True)
        started.append((user, int(pid.stdout.split()[0])))
        return runtime

    yield start
    for user, pid in started:
        os.kill(pid, signal.SIGTERM)
        # gvfsd-metadata, which the bus started for gio, leaves when the bus goes
        eventually(lambda: not [p for p in psutil.process_iter(["uids", "status"]) if p.info["uids"].real == user.uid
                                and p.info["status"] != psutil.STATUS_ZOMBIE], what=f"the processes of {user.name} to end")
        shutil.rmtree(f"/run/user/{user.uid}", ignore_errors=True)


@pytest.fixture
def product() -> str:
    return unique_product()


@pytest.fixture
def module(tmp_path, product) -> Path:
    """A stamped Linux module whose file name and product name have spaces."""
    return stamp_module(tmp_path / "modules", product=product)


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out dir"


MAINTAINER = "Acme IT <it@acme.example>"


def build(capsys, module: Path, out: Path, *options: str) -> Path:
    """``sosqueue package deb``, with ``--maintainer`` MAINTAINER unless ``options`` name one."""
    maintainer = () if "--maintainer" in options else ("--maintainer", MAINTAINER)
    code, stdout, stderr = run_cli(capsys, "package", "deb", "--module", str(module), "--out", str(out),
                                   *maintainer, *options)
    assert code == ExitCode.OK, stderr
    return Path(stdout.strip())


def login_as(user: "User", package: str) -> None:
    """What a login of ``user`` runs from the package's SOS-shortcut autostart entry."""
    subprocess.run(["runuser", "-u", user.name, "--", "env", f"HOME={user.home}", f"/opt/{package}/desktop-shortcuts",
                    "login"], check=True, capture_output=True, cwd="/")


def lintian_tags(deb: Path) -> list[tuple[str, str]]:
    """``(tag, context)`` of everything lintian reports on ``deb``."""
    lintian = require_tool("lintian", "lintian")
    result = subprocess.run([lintian, "--no-cfg", "--tag-display-limit", "0", str(deb)], capture_output=True,
                            text=True)
    found = []
    for line in result.stdout.splitlines():
        match = re.match(r"^[EWIPX]: \S+: (\S+)(?: (.*))?$", line)
        if match:
            found.append((match.group(1), (match.group(2) or "").strip("[]")))
    return found


# --- the package's contents -------------------------------------------------------------------


def test_package_holds_module_menu_entry_autostart_entries_and_docs(capsys, module, out, product):
    """The .deb installs the module under /opt, the menu entry, both autostart entries, copyright and changelog."""
    deb = build(capsys, module, out, "--autostart", "--version", "1.2.3")
    package = slug(product)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert deb == out / f"{package}_1.2.3_{arch}.deb"
    files = deb_listing(deb)
    assert files[f"/opt/{package}/{package}"] == "-rwxr-xr-x"
    assert files[f"/usr/share/applications/{package}.desktop"] == "-rw-r--r--"
    assert files[f"/etc/xdg/autostart/{package}.desktop"] == "-rw-r--r--"
    assert files[f"/etc/xdg/autostart/{package}-sos-shortcut.desktop"] == "-rw-r--r--"
    assert files[f"/opt/{package}/sosqueue-package.json"] == "-rw-r--r--"
    assert files[f"/usr/share/doc/{package}/copyright"] == "-rw-r--r--"
    assert files[f"/usr/share/doc/{package}/changelog.gz"] == "-rw-r--r--"
    assert not [path for path in files if path.startswith("/etc/skel")]
    assert deb_file(deb, f"/opt/{package}/{package}") == module.read_bytes()
    assert entries(out) == [deb.name]


def test_control_fields_name_the_product_company_and_glibc(capsys, module, out, product):
    """Package, Version, Architecture, Maintainer, Section, Priority, Depends and Description are set."""
    deb = build(capsys, module, out, "--version", "2.0.7")
    assert deb_field(deb, "Package") == slug(product)
    assert deb_field(deb, "Version") == "2.0.7"
    assert deb_field(deb, "Architecture") == elf_architecture(TRUE)
    assert deb_field(deb, "Maintainer") == MAINTAINER
    assert deb_field(deb, "Section") == "utils"
    assert deb_field(deb, "Priority") == "optional"
    assert re.fullmatch(r"libc6 \(>= 2\.\d+\), libx11-6, libxext6, libxrender1, libfontconfig1",
                        deb_field(deb, "Depends"))
    assert deb_field(deb, "Description").startswith(f"{product}: ask Acme Corp's support team for help")


def test_maintainer_option_sets_the_maintainer_field(capsys, module, out):
    """--maintainer is the Maintainer field, on one line."""
    deb = build(capsys, module, out, "--maintainer", "Jane  Doe\n<jane@acme.example>")
    assert deb_field(deb, "Maintainer") == "Jane Doe <jane@acme.example>"


def test_every_file_in_etc_is_a_conffile(capsys, tmp_path, module, out, product):
    """DEBIAN/conffiles lists exactly the files the package puts under /etc."""
    deb = build(capsys, module, out, "--autostart")
    in_etc = sorted(path for path, mode in deb_listing(deb).items() if path.startswith("/etc/") and mode[0] == "-")
    assert in_etc == [f"/etc/xdg/autostart/{slug(product)}-sos-shortcut.desktop",
                      f"/etc/xdg/autostart/{slug(product)}.desktop"]
    assert control_file(deb, "conffiles", tmp_path / "control").read_text().splitlines() == in_etc


def test_package_ships_no_update_policy(capsys, module, out):
    """IT's policy file is IT's: a package that shipped it would conflict with every other
    company's package, so none has it, nor its folder."""
    policy = updates.POLICY_FILES[Platform.LINUX]
    listing = deb_listing(build(capsys, module, out))
    assert not [path for path in listing if path.rstrip("/") in (str(policy), str(policy.parent))]


def test_copyright_and_changelog_name_the_company_version_and_maintainer(capsys, module, out, product):
    """copyright is DEP-5 with the company; changelog.gz has this version, signed by the Maintainer."""
    package = slug(product)
    deb = build(capsys, module, out, "--version", "4.5.6")
    copyright_text = deb_file(deb, f"/usr/share/doc/{package}/copyright").decode()
    assert copyright_text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
    assert re.search(r"^Copyright: \d{4} Acme Corp$", copyright_text, re.M)
    changelog = gzip.decompress(deb_file(deb, f"/usr/share/doc/{package}/changelog.gz")).decode()
    assert changelog.startswith(f"{package} (4.5.6) unstable; urgency=medium\n")
    assert f"\n -- {MAINTAINER}  " in changelog


def test_archive_has_no_entry_for_opt_itself(capsys, module, out, product):
    """The package does not own /opt (purge would warn it cannot remove it), only /opt/P."""
    files = deb_listing(build(capsys, module, out))
    assert "/opt" not in files and f"/opt/{slug(product)}" in files


def test_lintian_finds_only_allowed_tags(capsys, module, out):
    """lintian reports nothing beyond the allow-list, with and without autostart and shortcuts."""
    for options in (("--autostart",), ("--no-autostart", "--no-desktop-shortcut")):
        deb = build(capsys, module, out / options[0].lstrip("-"), *options)
        assert unexpected(lintian_tags(deb)) == [], options


def test_lintian_on_the_real_base_finds_only_allowed_tags(capsys, tmp_path, real_base, product):
    """The PyInstaller module's package gets no lintian tag beyond the allow-list, each with its reason."""
    deb = build(capsys, stamp_module(tmp_path / "modules", product=product, base=real_base), tmp_path / "out")
    tags = lintian_tags(deb)
    assert unexpected(tags) == []
    assert all(ALLOWED_TAGS[tag] for tag, _ in tags)


@pytest.mark.skipif(not HAS_OBJDUMP, reason="objdump (binutils) is not installed")
def test_depends_on_the_newest_glibc_version_the_program_needs(tmp_path, module):
    """The minimum glibc is the newest GLIBC_ version among the program's needed symbols."""
    dump = subprocess.run(["objdump", "-T", TRUE], capture_output=True, text=True, check=True).stdout
    newest = max((tuple(map(int, v.split("."))) for v in re.findall(r"\(GLIBC_([\d.]+)\)", dump)))
    assert minimum_glibc(module) == ".".join(map(str, newest))


def test_architecture_comes_from_the_elf_header(capsys, tmp_path, out, product):
    """An arm64 program gives an _arm64.deb, whatever this machine is."""
    base = plain_copy(tmp_path / "base")
    data = bytearray(base.read_bytes())
    data[18:20] = (183).to_bytes(2, "little")  # e_machine = EM_AARCH64
    base.write_bytes(bytes(data))
    deb = build(capsys, stamp_module(tmp_path / "modules", product=product, base=base), out)
    assert deb.name.endswith("_arm64.deb")
    assert deb_field(deb, "Architecture") == "arm64"


def test_without_autostart_and_shortcut_both_autostart_entries_are_switched_off(capsys, module, out, product):
    """--no-autostart --no-desktop-shortcut ship both autostart entries Hidden (an admin can switch them on)."""
    package = slug(product)
    deb = build(capsys, module, out, "--no-autostart", "--no-desktop-shortcut")
    files = deb_listing(deb)
    for path in (f"/etc/xdg/autostart/{package}.desktop", f"/etc/xdg/autostart/{package}-sos-shortcut.desktop"):
        text = deb_file(deb, path).decode()
        assert "\nHidden=true\n" in text and "X-GNOME-Autostart-enabled" not in text, path
    assert f"/opt/{package}/sos-shortcut.desktop" not in files
    assert f"/usr/share/applications/{package}.desktop" in files


def test_desktop_entries_run_the_module_in_its_modes(capsys, module, out, product):
    """The menu entry opens the module, the SOS shortcut passes --sos, autostart --tray, the
    login entry runs the helper; each has TryExec and the brand icon, the launchers the window class."""
    deb = build(capsys, module, out, "--autostart")
    package = slug(product)
    executable = f"/opt/{package}/{package}"
    menu = deb_file(deb, f"/usr/share/applications/{package}.desktop").decode()
    sos = deb_file(deb, f"/opt/{package}/sos-shortcut.desktop").decode()
    autostart = deb_file(deb, f"/etc/xdg/autostart/{package}.desktop").decode()
    login = deb_file(deb, f"/etc/xdg/autostart/{package}-sos-shortcut.desktop").decode()
    assert f"\nName={product}\n" in menu and f"\nExec={executable}\n" in menu
    assert f"\nName={product} SOS\n" in sos and f"\nExec={executable} --sos\n" in sos
    assert f"\nExec={executable} --tray\n" in autostart and "\nNoDisplay=true\n" in autostart
    assert f"\nExec=/opt/{package}/desktop-shortcuts login\n" in login
    assert f"\nIcon=/opt/{package}/icons/sos.png\n" in sos and f"\nIcon=/opt/{package}/icons/sos.png\n" in login
    assert f"\nIcon=/opt/{package}/icons/app.png\n" in menu and f"\nIcon=/opt/{package}/icons/app.png\n" in autostart
    for entry in (menu, sos, autostart):
        assert f"\nTryExec={executable}\n" in entry and f"\nStartupWMClass={WINDOW_CLASS}\n" in entry
    assert f"\nTryExec=/opt/{package}/desktop-shortcuts\n" in login


@pytest.mark.parametrize("options", [("--autostart",), ("--no-autostart", "--no-desktop-shortcut")])
def test_desktop_entries_pass_desktop_file_validate(capsys, tmp_path, module, out, product, options):
    """desktop-file-validate accepts the menu entry, both autostart entries and the SOS shortcut."""
    validate = require_tool("desktop-file-validate", "desktop-file-utils")
    deb = build(capsys, module, out, *options)
    paths = [path for path, mode in deb_listing(deb).items() if path.endswith(".desktop") and mode[0] == "-"]
    assert len(paths) == (4 if "--autostart" in options else 3)
    for index, path in enumerate(paths):
        copy = tmp_path / f"entry{index}.desktop"
        copy.write_bytes(deb_file(deb, path))
        result = subprocess.run([validate, copy], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), f"{path}: {result.stdout}"


def test_maintainer_scripts_are_posix_sh_with_set_e(capsys, tmp_path, module, out, product):
    """postinst, prerm and postrm are #!/bin/sh scripts with set -e that sh can parse."""
    deb = build(capsys, module, out)
    for name in ("preinst", "postinst", "prerm", "postrm"):
        script = control_file(deb, name, tmp_path / "control")
        text = script.read_text()
        assert text.startswith("#!/bin/sh\n") and "\nset -e\n" in text
        assert os.access(script, os.X_OK)
        assert subprocess.run(["sh", "-n", script]).returncode == 0


def test_maintainer_scripts_and_shortcut_helper_are_shellcheck_clean(capsys, tmp_path, module, out, product):
    """shellcheck finds nothing in the maintainer scripts and the desktop-shortcuts helper."""
    shellcheck = require_tool("shellcheck", "shellcheck")
    deb = build(capsys, module, out)
    scripts = [control_file(deb, name, tmp_path / "control") for name in ("preinst", "postinst", "prerm", "postrm")]
    helper = tmp_path / "desktop-shortcuts"
    helper.write_bytes(deb_file(deb, f"/opt/{slug(product)}/desktop-shortcuts"))
    result = subprocess.run([shellcheck, "-s", "sh", *scripts, helper], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_json_output_describes_the_package(capsys, module, out, product):
    """--json prints one JSON object with the path, package, version and architecture."""
    code, stdout, _ = run_cli(capsys, "package", "deb", "--module", str(module), "--out", str(out), "--json",
                              "--version", "3.1.4", "--maintainer", MAINTAINER)
    result = json.loads(stdout)
    assert code == ExitCode.OK
    assert result["package"] == slug(product) and result["version"] == "3.1.4"
    assert Path(result["path"]).is_file() and result["depends"].startswith("libc6")


# --- bad input ------------------------------------------------------------------------------


def refused(capsys, out: Path, args: list[str], code: ExitCode, words: str) -> None:
    assert_refused(capsys, out, "deb", args, code, words)


def test_missing_module_is_refused(capsys, tmp_path, out):
    """A module path that does not exist: NOT_FOUND, one line, nothing written."""
    refused(capsys, out, ["--module", str(tmp_path / "no such module")], ExitCode.NOT_FOUND, "no module at")
    assert not out.exists()


def test_base_agent_is_refused(capsys, tmp_path, out):
    """An unstamped program is a base, not a module: NOT_A_MODULE."""
    base = plain_copy(tmp_path / "base")
    refused(capsys, out, ["--module", str(base)], ExitCode.NOT_A_MODULE, "base agent")


def test_damaged_module_is_refused(capsys, module, out):
    """A module with a changed payload byte fails its checksum: CHANGED_MODULE."""
    refused(capsys, out, ["--module", str(damage(module))], ExitCode.CHANGED_MODULE, "changed configuration")


def test_macos_module_is_refused_naming_its_platform(module, out):
    """A macOS module (an app bundle) is refused before anything is written, and the message says macOS."""
    linux = read_module(module)
    macos = dataclasses.replace(linux, path=module.with_suffix(".app"), platform=Platform.MACOS)
    with pytest.raises(ConfigError, match="is a macOS module; a .deb wraps Linux modules: .* or package this one "
                                          "with build_scripts/macos/pkgbuild.sh"):
        check_platform(deb.FORMAT, macos)
    assert not out.exists()


def test_missing_maintainer_is_refused_asking_for_the_option(capsys, module, out):
    """Without --maintainer (the module names no support address): CONFIG, telling to pass it."""
    refused(capsys, out, ["--module", str(module)], ExitCode.CONFIG, "pass --maintainer")


@pytest.mark.parametrize("maintainer", ["Acme Corp", "it@acme.example", "<it@acme.example>", "Acme IT <it@acme>",
                                        "Acme IT <it@acme.example>, Bob <bob@acme.example>",
                                        "Acme IT <it acme.example>"])
def test_malformed_maintainer_is_refused(capsys, module, out, maintainer):
    """A Maintainer that is not 'Name <address>': CONFIG, with an example."""
    refused(capsys, out, ["--module", str(module), "--maintainer", maintainer], ExitCode.CONFIG, "'Name <address>'")


def test_bad_version_is_refused(capsys, module, out):
    """A version MSI and dpkg cannot both take is a CONFIG error."""
    refused(capsys, out, ["--module", str(module), "--version", "1.300.0"], ExitCode.CONFIG, "X.Y.Z")


def test_unwritable_out_is_refused(capsys, tmp_path, module):
    """An --out that is a file: OUTPUT, and the file is untouched."""
    blocker = tmp_path / "a file"
    blocker.write_text("keep me")
    refused(capsys, blocker, ["--module", str(module), "--maintainer", MAINTAINER], ExitCode.OUTPUT,
            "choose another --out")
    assert blocker.read_text() == "keep me"


def test_failing_dpkg_deb_leaves_nothing_in_out(tmp_path, module, out):
    """When dpkg-deb fails, TOOL_FAILED, and out holds no staging folder and no package."""
    failing = DpkgDeb(which=lambda _: shutil.which("false"))
    with pytest.raises(ToolFailed):
        build_deb(read_module(module), out, version="1.0.0", maintainer=MAINTAINER, tool=failing)
    assert entries(out) == []


def test_missing_dpkg_deb_says_how_to_install_it(tmp_path, module, out):
    """Without dpkg-deb: TOOL_MISSING naming the Debian package, before anything is written."""
    with pytest.raises(ToolMissing, match="apt-get install dpkg"):
        build_deb(read_module(module), out, version="1.0.0", maintainer=MAINTAINER, tool=DpkgDeb(which=lambda _: None))
    assert not out.exists()


# --- installed for real ---------------------------------------------------------------------


def shortcut_list(package: str) -> list[list[str]]:
    path = Path(f"/var/lib/{package}/shortcuts.list")
    return [line.split("\t") for line in path.read_text().splitlines()] if path.exists() else []


@needs_dpkg
def test_dpkg_install_and_remove_with_shortcuts_for_every_user(capsys, machine, module, out, product):
    """dpkg -i puts everything in place with a shortcut per user, and a later user's first login
    makes theirs; dpkg -r takes the program and shortcuts away, dpkg -P the conffiles and state too."""
    package = slug(product)
    shortcut = f"{product} SOS.desktop"
    early = machine.add_user(desktop="$HOME/Mein Schreibtisch")
    result = machine.install(build(capsys, module, out, "--autostart"))
    assert "warning" not in result.stderr.lower(), result.stderr

    installed = Path(f"/opt/{package}/{package}")
    conffiles = [Path(f"/etc/xdg/autostart/{package}.desktop"),
                 Path(f"/etc/xdg/autostart/{package}-sos-shortcut.desktop")]
    assert installed.stat().st_mode & 0o777 == 0o755
    assert module_config.parse(payload.read(installed)).module_id == read_module(module).module_id
    for path in (Path(f"/usr/share/applications/{package}.desktop"), *conffiles):
        assert path.is_file(), path
    early_shortcut = early.home / "Mein Schreibtisch" / shortcut
    assert early_shortcut.read_bytes() == Path(f"/opt/{package}/sos-shortcut.desktop").read_bytes()
    assert (early_shortcut.stat().st_uid, early_shortcut.stat().st_mode & 0o777) == (early.uid, 0o755)
    assert [early.name, str(early_shortcut)] in shortcut_list(package)

    late = machine.add_user()  # created after the install: gets the shortcut at the first login
    late_shortcut = late.home / "Desktop" / shortcut
    assert not late_shortcut.exists()
    login_as(late, package)
    assert late_shortcut.is_file() and late_shortcut.stat().st_uid == late.uid

    result = machine.dpkg("-r", package)
    assert "warning" not in result.stderr.lower(), result.stderr
    for path in (installed, Path(f"/usr/share/applications/{package}.desktop"), early_shortcut, late_shortcut,
                 late.home / ".local" / "state" / package, early.home / ".local" / "state" / package):
        assert not path.exists(), path
    assert not Path(f"/opt/{package}").exists()
    assert early_shortcut.parent.is_dir()  # the user's desktop folder itself stays
    assert all(path.is_file() for path in conffiles)  # conffiles stay until purge; TryExec keeps them idle

    result = machine.dpkg("-P", package)
    assert "warning" not in result.stderr.lower(), result.stderr
    assert not any(path.exists() for path in conffiles)
    assert not Path(f"/var/lib/{package}").exists()
    assert installed_status(package) is None


@needs_dpkg
def test_admins_edit_to_the_autostart_entry_survives_an_upgrade(capsys, tmp_path, machine, module, out, product):
    """An admin switches autostart on by editing the conffile; installing the next version keeps the edit."""
    package = slug(product)
    machine.install(build(capsys, module, out, "--version", "1.0.0"))
    entry = Path(f"/etc/xdg/autostart/{package}.desktop")
    edited = entry.read_text().replace("Hidden=true\n", "X-Edited-By-Admin=true\n")
    entry.write_text(edited)
    result = machine.install(build(capsys, module, tmp_path / "v2", "--version", "1.0.1"))
    assert installed_status(package) == "ii" and deb_field(next((tmp_path / "v2").iterdir()), "Version") == "1.0.1"
    assert entry.read_text() == edited, result.stdout


@needs_dpkg
def test_login_gives_a_shortcut_once_and_not_after_the_user_deleted_it(capsys, machine, module, out, product):
    """A later user's first login makes the shortcut; after they delete it, the next login does not."""
    package = slug(product)
    machine.install(build(capsys, module, out))
    user = machine.add_user(desktop="$HOME/Schreibtisch")
    login_as(user, package)
    login_as(user, package)
    shortcut = user.home / "Schreibtisch" / f"{product} SOS.desktop"
    assert [path.name for path in shortcut.parent.iterdir() if product in path.name] == [shortcut.name]
    shortcut.unlink()
    login_as(user, package)
    assert not shortcut.exists()


@needs_dpkg
def test_login_makes_no_shortcut_from_a_package_built_without_them(capsys, machine, module, out, product):
    """With --no-desktop-shortcut the login entry is Hidden, and the helper's login does nothing anyway."""
    package = slug(product)
    machine.install(build(capsys, module, out, "--no-desktop-shortcut"))
    user = machine.add_user()
    login_as(user, package)
    assert not (user.home / "Desktop" / f"{product} SOS.desktop").exists()
    assert not (user.home / ".local" / "state" / package).exists()


@needs_dpkg
def test_reinstalling_keeps_one_shortcut_per_user(capsys, machine, module, out, product):
    """Installing the same package again, or running postinst again, adds no second shortcut."""
    package = slug(product)
    user = machine.add_user()
    deb = build(capsys, module, out)
    machine.install(deb)
    machine.install(deb)
    subprocess.run([f"/var/lib/dpkg/info/{package}.postinst", "configure", "1.0.0"], check=True, capture_output=True)
    assert [entry for entry in shortcut_list(package) if entry[0] == user.name] == [
        [user.name, str(user.home / "Desktop" / f"{product} SOS.desktop")]]
    # other packages (another test run on this machine) may give the same user their own shortcuts
    assert [path.name for path in (user.home / "Desktop").iterdir() if product in path.name] == [
        f"{product} SOS.desktop"]


@needs_dpkg
def test_upgrade_does_not_bring_back_a_shortcut_the_user_deleted(capsys, tmp_path, machine, module, out, product):
    """A user who deleted the SOS shortcut does not get it back with the next version."""
    user = machine.add_user()
    machine.install(build(capsys, module, out, "--version", "1.0.0"))
    shortcut = user.home / "Desktop" / f"{product} SOS.desktop"
    shortcut.unlink()
    machine.install(build(capsys, module, tmp_path / "v2", "--version", "1.0.1"))
    assert installed_status(slug(product)) == "ii"
    assert not shortcut.exists()


@needs_dpkg
def test_upgrade_from_a_version_without_user_records_keeps_a_deleted_shortcut_deleted(capsys, tmp_path, machine,
                                                                                       module, out, product):
    """Earlier versions listed shortcuts only in shortcuts.list; the next version takes that over
    as the user's record instead of making the shortcut again."""
    package = slug(product)
    user = machine.add_user()
    machine.install(build(capsys, module, out, "--version", "1.0.0"))
    shutil.rmtree(user.home / ".local" / "state" / package)  # as an earlier version left it: list only
    shortcut = user.home / "Desktop" / f"{product} SOS.desktop"
    shortcut.unlink()
    machine.install(build(capsys, module, tmp_path / "v2", "--version", "1.0.1"))
    assert not shortcut.exists()
    assert (user.home / ".local" / "state" / package / "sos-shortcut").read_text() == f"{shortcut}\n"


@needs_dpkg
def test_remove_keeps_a_login_shortcut_the_user_changed(capsys, machine, module, out, product):
    """Removal takes the shortcuts users got at login, but not one the user edited."""
    machine.install(build(capsys, module, out))
    user = machine.add_user()
    login_as(user, slug(product))
    copy = user.home / "Desktop" / f"{product} SOS.desktop"
    copy.write_text(copy.read_text() + "X-Edited-By-User=true\n")
    machine.dpkg("-r", slug(product))
    assert copy.is_file()


@needs_dpkg
def test_package_built_without_shortcuts_removes_those_of_the_previous_version(capsys, tmp_path, machine, module,
                                                                                out, product):
    """Upgrading to a build with --no-desktop-shortcut removes the shortcuts the old one made."""
    user = machine.add_user()
    machine.install(build(capsys, module, out, "--version", "1.0.0"))
    shortcut = user.home / "Desktop" / f"{product} SOS.desktop"
    assert shortcut.is_file()
    machine.install(build(capsys, module, tmp_path / "v2", "--version", "1.0.1", "--no-desktop-shortcut"))
    assert not shortcut.exists()
    assert "\nHidden=true\n" in Path(f"/etc/xdg/autostart/{slug(product)}-sos-shortcut.desktop").read_text()


@needs_dpkg
def test_real_base_module_installs_and_prints_its_config(capsys, tmp_path, machine, real_base, product):
    """A module stamped on the real PyInstaller base runs from /opt and reads its own payload."""
    module = stamp_module(tmp_path / "modules", product=product, base=real_base)
    deb = build(capsys, module, tmp_path / "out")
    assert deb_field(deb, "Depends") == f"libc6 (>= {minimum_glibc(module)}), {', '.join(DESKTOP_LIBRARIES)}"
    machine.install(deb)
    package = slug(product)
    result = subprocess.run([f"/opt/{package}/{package}", "--print-config"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "SOSQUEUE_AGENT_HOME": str(tmp_path / "agent-home")})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["module"]["id"] == read_module(module).module_id


@needs_dpkg
@pytest.mark.skipif(not HAS_GVFS_METADATA, reason="gio, dbus-daemon or gvfsd-metadata is not installed")
def test_shortcut_is_marked_trusted_for_a_user_with_a_session(capsys, machine, start_session_bus, module, out,
                                                              product):
    """For a logged-in user the shortcut gets GNOME's, LXQt's and Xfce's trust metadata, so it runs without asking."""
    user = machine.add_user()
    runtime = start_session_bus(user)
    machine.install(build(capsys, module, out))
    shortcut = user.home / "Desktop" / f"{product} SOS.desktop"
    info = subprocess.run(["runuser", "-u", user.name, "--", "env", f"XDG_RUNTIME_DIR={runtime}",
                           f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime}/bus", "gio", "info", "-a", "metadata::*",
                           str(shortcut)], capture_output=True, text=True, check=True).stdout
    assert "metadata::trusted: true" in info and "metadata::trust: true" in info
    checksum = hashlib.sha256(shortcut.read_bytes()).hexdigest()
    assert f"metadata::xfce-exe-checksum: {checksum}" in info


# --- the folder form (--onedir-base) ------------------------------------------------------------


def folder_base(folder: Path) -> Path:
    """A stand-in folder base: an unstamped program, and ``_internal`` with a library and a link to it."""
    plain_copy(folder)
    library = folder / onedir.CONTENTS / "lib" / "libstand-in.so.1"
    library.parent.mkdir(parents=True)
    shutil.copy2(TRUE, library)
    (folder / onedir.CONTENTS / library.name).symlink_to(f"lib/{library.name}")
    return folder


@pytest.fixture(scope="module")
def real_folder_base(tmp_path_factory) -> Path:
    """The real folder base (``sosqueue build-base --onedir``), built once for this file's tests."""
    from builder.bases import build_base

    mode = os.environ.get("SOSQUEUE_BASE_MODE")
    try:
        return build_base(tmp_path_factory.mktemp("onedir"), onedir=True)
    finally:  # build_base sets SOSQUEUE_BASE_MODE in this process
        os.environ.pop("SOSQUEUE_BASE_MODE", None) if mode is None else os.environ.update(SOSQUEUE_BASE_MODE=mode)


def test_onedir_base_installs_the_folders_program_with_the_modules_payload(capsys, tmp_path, module, out, product):
    """/opt/P/P is the folder base's program carrying the module's payload (which verifies against
    it); _internal lies beside it, its link a link, which md5sums leaves out as dpkg wants."""
    base = folder_base(tmp_path / "onedir")
    deb = build(capsys, module, out, "--onedir-base", str(base))
    package = slug(product)
    listing = deb_listing(deb)
    assert listing[f"/opt/{package}/{onedir.CONTENTS}/lib/libstand-in.so.1"] == "-rwxr-xr-x"
    assert listing[f"/opt/{package}/{onedir.CONTENTS}/libstand-in.so.1 -> lib/libstand-in.so.1"].startswith("l")
    program = tmp_path / "program"
    program.write_bytes(deb_file(deb, f"/opt/{package}/{package}"))
    verified = payload.verify(program)
    assert verified.program is payload.Program.VERIFIED and verified.payload == payload.read(module)
    assert program.read_bytes()[:payload.span(program)[0]] == (base / "sosqueue-agent").read_bytes()
    md5sums = control_file(deb, "md5sums", tmp_path / "control").read_text()
    assert f"opt/{package}/{onedir.CONTENTS}/lib/libstand-in.so.1\n" in md5sums
    assert f"opt/{package}/{onedir.CONTENTS}/libstand-in.so.1\n" not in md5sums


def test_onedir_json_names_the_form(capsys, tmp_path, module, out):
    """--json says which form the package installs."""
    code, stdout, stderr = run_cli(capsys, "package", "deb", "--module", str(module), "--out", str(out), "--maintainer",
                                   MAINTAINER, "--onedir-base", str(folder_base(tmp_path / "onedir")), "--json")
    assert code == ExitCode.OK, stderr
    assert json.loads(stdout)["form"] == "onedir"


def test_onedir_base_without_its_internal_folder_is_refused(capsys, tmp_path, module, out):
    """A folder without _internal beside the program is no folder base, and the error says how to build one."""
    base = folder_base(tmp_path / "onedir")
    shutil.rmtree(base / onedir.CONTENTS)
    assert_refused(capsys, out, "deb",
                   ["--module", str(module), "--maintainer", MAINTAINER, "--onedir-base", str(base)],
                   ExitCode.BASE, "sosqueue build-base --onedir")


def test_onedir_base_with_a_stamped_program_is_refused(capsys, tmp_path, module, out, product):
    """A folder whose program is already a module is not a base."""
    base = folder_base(tmp_path / "onedir")
    (base / "sosqueue-agent").unlink()
    stamp_module(base, product=product, name="sosqueue-agent")
    assert_refused(capsys, out, "deb",
                   ["--module", str(module), "--maintainer", MAINTAINER, "--onedir-base", str(base)],
                   ExitCode.BASE, "already a stamped module")


def test_lintian_on_the_real_folder_form_finds_only_allowed_tags(capsys, tmp_path, real_base, real_folder_base,
                                                                 product):
    """The folder form's package gets no lintian tag beyond the allow-list, each with its reason."""
    module = stamp_module(tmp_path / "modules", product=product, base=real_base)
    tags = lintian_tags(build(capsys, module, tmp_path / "out", "--onedir-base", str(real_folder_base)))
    assert unexpected(tags) == []
    assert all(ALLOWED_TAGS[tag] for tag, _ in tags)


@needs_dpkg
def test_real_onedir_module_installs_and_prints_its_config(capsys, tmp_path, machine, real_base, real_folder_base,
                                                           product):
    """The folder form of a module stamped on the real base runs from /opt/P with its _internal,
    and purge leaves nothing of it."""
    module = stamp_module(tmp_path / "modules", product=product, base=real_base)
    deb = build(capsys, module, tmp_path / "out", "--onedir-base", str(real_folder_base))
    machine.install(deb)
    package = slug(product)
    assert Path(f"/opt/{package}/{onedir.CONTENTS}").is_dir()
    result = subprocess.run([f"/opt/{package}/{package}", "--print-config"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "SOSQUEUE_AGENT_HOME": str(tmp_path / "agent-home")})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["module"]["id"] == read_module(module).module_id
    machine.dpkg("-P", package)
    assert not Path(f"/opt/{package}").exists()
