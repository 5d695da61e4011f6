"""Base agents: which platform a base is for, refusing stamped ones, and building one with PyInstaller."""

import hashlib
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sosqueue
from sosqueue import payload, updates
from builder import bases, cache
from builder.bases import SPEC, base_platform, build_base, check_base
from sosqueue.errors import BaseError, ToolFailed
from builder.tools.pyinstaller import PyInstaller

MAX_BASE_BYTES = 15 * 1024 * 1024  # the size target for a onefile Linux base (issue 16)
ARCHIVE_VIEWER = Path(sys.executable).with_name("pyi-archive_viewer")
SAMPLE = payload.Payload(config={"format": 1}, assets={"logo.png": b"png"})


def app_bundle(folder: Path, name: str = "sosqueue-agent.app") -> Path:
    bundle = folder / name
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    (bundle / "Contents" / "MacOS" / "sosqueue-agent").write_bytes(b"\xcf\xfa\xed\xfe")
    return bundle


class RecordingRunner:
    """Stands in for ``subprocess.run``: records each argv and plays PyInstaller's part on disk."""

    def __init__(self, *, returncode: int = 0, stderr: str = "", onedir: bool = False):
        self.calls: list[list[str]] = []
        self.modes: list[str | None] = []
        self.returncode, self.stderr, self.onedir = returncode, stderr, onedir

    def __call__(self, command, **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(list(command))
        self.modes.append((kwargs.get("env") or os.environ).get("SOSQUEUE_BASE_MODE"))
        if self.returncode == 0:
            dist = Path(command[command.index("--distpath") + 1])
            dist.mkdir(parents=True)
            if self.onedir:
                (dist / "sosqueue-agent").mkdir()
                (dist / "sosqueue-agent" / "sosqueue-agent").write_bytes(b"\x7fELF new")
            else:
                (dist / "sosqueue-agent").write_bytes(b"\x7fELF new")
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture
def restore_base_mode(monkeypatch):
    """``build_base`` sets SOSQUEUE_BASE_MODE in this process; put it back after the test."""
    monkeypatch.setenv("SOSQUEUE_BASE_MODE", "unset-by-test")


def test_elf_file_is_a_linux_base(fake_base):
    """A file starting with ``\\x7fELF`` is a Linux base."""
    assert base_platform(fake_base) == "linux"


def test_mz_file_is_a_windows_base(tmp_path):
    """A file starting with ``MZ`` is a Windows base."""
    base = tmp_path / "sosqueue-agent.exe"
    base.write_bytes(b"MZ" + bytes(510))
    assert base_platform(base) == "windows"


def test_app_bundle_is_a_macos_base(tmp_path):
    """A folder with ``Contents/MacOS`` is a macOS base."""
    assert base_platform(app_bundle(tmp_path)) == "macos"


def test_plain_folder_is_refused(tmp_path):
    """A folder that is not an .app bundle names --base."""
    with pytest.raises(BaseError, match="not a macOS .app bundle.*--base"):
        base_platform(tmp_path)


@pytest.mark.parametrize("content", [b"#!/bin/sh\necho hi\n", b"", b"\x7fEL", b"PK\x03\x04zip"])
def test_non_executables_are_refused(tmp_path, content):
    """Text, empty files, a cut ELF magic and archives are not executables."""
    base = tmp_path / "sosqueue-agent"
    base.write_bytes(content)
    with pytest.raises(BaseError, match="is not an executable .*sosqueue build-base") as raised:
        base_platform(base)
    assert raised.value.exit_code == 11


def test_missing_base_says_how_to_build_one(tmp_path):
    """A missing base names ``sosqueue build-base``."""
    with pytest.raises(BaseError, match="no base agent at .*sosqueue build-base"):
        base_platform(tmp_path / "nope")


def test_check_base_accepts_an_unstamped_base(fake_base):
    """An unstamped base passes and its platform comes back."""
    assert check_base(fake_base) == "linux"


def test_check_base_refuses_a_stamped_file(fake_base, tmp_path):
    """A file with a payload is a module, not a base."""
    module = payload.stamp(fake_base, SAMPLE, tmp_path / "module")
    with pytest.raises(BaseError, match="already a stamped module"):
        check_base(module)


def test_check_base_refuses_a_file_with_a_damaged_payload(fake_base, tmp_path):
    """A damaged module is still no base: its trailer shows it was stamped."""
    module = payload.stamp(fake_base, SAMPLE, tmp_path / "module")
    data = bytearray(module.read_bytes())
    data[fake_base.stat().st_size + 5] ^= 0xFF
    module.write_bytes(bytes(data))
    with pytest.raises(BaseError, match="already a stamped module"):
        check_base(module)


def test_check_base_refuses_a_stamped_app_bundle(tmp_path):
    """An .app with the module resource is a module, not a base."""
    bundle = app_bundle(tmp_path)
    (bundle / payload.MACOS_RESOURCE).parent.mkdir(parents=True)
    (bundle / payload.MACOS_RESOURCE).write_bytes(SAMPLE.to_bytes())
    with pytest.raises(BaseError, match="already a stamped module"):
        check_base(bundle)


def test_default_base_is_in_the_builders_cache_for_this_host():
    """Without --base the build looks where ``sosqueue build-base`` puts the host's base."""
    assert bases.host_platform() == "linux"
    assert bases.default_base() == bases.default_base_dir() / "sosqueue-agent"
    assert bases.default_base_dir().parts[-2:] == ("bases", "linux")


def test_default_folder_base_lies_beside_the_onefile_base(tmp_path, monkeypatch, restore_base_mode):
    """``build-base --onedir`` without --out builds into its own folder: the one-file base, which
    has the same name, stays."""
    monkeypatch.setattr(cache.platformdirs, "user_cache_dir", lambda *args, **kwargs: str(tmp_path / "cache"))
    onefile = build_base(tool=PyInstaller(runner=RecordingRunner()))
    folder = build_base(onedir=True, tool=PyInstaller(runner=RecordingRunner(onedir=True)))
    assert folder == bases.default_base_dir(onedir=True) / "sosqueue-agent" and folder.is_dir()
    assert folder.parent.parent == onefile.parent and onefile.read_bytes() == b"\x7fELF new"


def test_build_base_runs_pyinstaller_on_the_spec(tmp_path, restore_base_mode):
    """The exact PyInstaller command: this Python, the checked-in spec, scratch dist and work folders."""
    runner = RecordingRunner()
    base = build_base(tmp_path / "bases", tool=PyInstaller(runner=runner))
    [command] = runner.calls
    dist = Path(command[command.index("--distpath") + 1])
    work = Path(command[command.index("--workpath") + 1])
    assert command == [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                       "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    assert dist.parent == work.parent
    assert not dist.parent.exists()  # the scratch folder is gone
    assert SPEC.name == "sosqueue-agent.spec" and SPEC.is_file()
    assert runner.modes == ["onefile"]
    assert base == (tmp_path / "bases" / "sosqueue-agent").resolve()
    assert base.read_bytes() == b"\x7fELF new"


def test_build_base_replaces_an_older_base_and_leaves_no_staging(tmp_path, restore_base_mode):
    """A rebuilt base replaces the old one; the folder holds only the base."""
    out = tmp_path / "bases"
    out.mkdir()
    (out / "sosqueue-agent").write_bytes(b"\x7fELF old")
    build_base(out, tool=PyInstaller(runner=RecordingRunner()))
    assert (out / "sosqueue-agent").read_bytes() == b"\x7fELF new"
    assert sorted(path.name for path in out.iterdir()) == sorted(["sosqueue-agent", updates.BASE_INFO])


def test_build_base_writes_the_agent_version_beside_the_base(tmp_path, restore_base_mode, caplog):
    """``base.json`` holds the release the base carries, as the server reads it, and stderr names it."""
    caplog.set_level(logging.INFO, logger="sosqueue.builder")
    base = build_base(tmp_path / "bases", tool=PyInstaller(runner=RecordingRunner()))
    info = updates.read_base_info(base)
    assert info.version == sosqueue.__version__ and updates.is_build_time(info.built) and info.built
    assert str(base.parent / updates.BASE_INFO) in caplog.text


def test_build_base_replaces_an_older_base_info(tmp_path, restore_base_mode):
    """A rebuilt base gets the current version, whatever the old file said."""
    out = tmp_path / "bases"
    out.mkdir()
    (out / updates.BASE_INFO).write_text('{"version": "0.0.1"}')
    base = build_base(out, tool=PyInstaller(runner=RecordingRunner()))
    assert updates.read_base_info(base).version == sosqueue.__version__


def test_failed_pyinstaller_writes_no_base_info(tmp_path, restore_base_mode):
    """No base, no version: a failed build leaves the folder as it was."""
    out = tmp_path / "bases"
    with pytest.raises(ToolFailed):
        build_base(out, tool=PyInstaller(runner=RecordingRunner(returncode=1, stderr="ERROR: no\n")))
    assert list(out.iterdir()) == []


def test_build_base_onedir_builds_a_folder(tmp_path, restore_base_mode):
    """``--onedir`` asks the spec for a folder and replaces an older folder."""
    out = tmp_path / "bases"
    (out / "sosqueue-agent").mkdir(parents=True)
    (out / "sosqueue-agent" / "stale.so").write_bytes(b"old")
    runner = RecordingRunner(onedir=True)
    base = build_base(out, onedir=True, tool=PyInstaller(runner=runner))
    assert runner.modes == ["onedir"]
    assert sorted(path.name for path in base.iterdir()) == ["sosqueue-agent"]
    assert updates.read_base_info(base).version == sosqueue.__version__  # beside the folder, not in it


def test_failed_pyinstaller_keeps_the_old_base(tmp_path, restore_base_mode):
    """When PyInstaller fails, its last stderr line is shown and the old base stays."""
    out = tmp_path / "bases"
    out.mkdir()
    (out / "sosqueue-agent").write_bytes(b"\x7fELF old")
    runner = RecordingRunner(returncode=1, stderr="INFO: starting\nERROR: Spec file not valid\n")
    with pytest.raises(ToolFailed, match=r"PyInstaller failed \(1\): ERROR: Spec file not valid"):
        build_base(out, tool=PyInstaller(runner=runner))
    assert [path.name for path in out.iterdir()] == ["sosqueue-agent"]
    assert (out / "sosqueue-agent").read_bytes() == b"\x7fELF old"


def test_base_sha256_is_the_files_sha256(fake_base):
    """The hash a module carries of its base is the plain SHA-256 of the file."""
    assert bases.base_sha256(fake_base) == hashlib.sha256(fake_base.read_bytes()).hexdigest()


def test_base_sha256_of_an_app_bundle_is_empty(tmp_path):
    """A macOS .app is a folder: no single file to hash."""
    assert bases.base_sha256(app_bundle(tmp_path)) == ""


def test_base_sha256_of_an_unreadable_base_names_build_base(tmp_path):
    """A base that cannot be read: exit 11, naming the file and ``sosqueue build-base``."""
    with pytest.raises(BaseError, match=r"cannot read the base agent .*nope .*sosqueue build-base") as raised:
        bases.base_sha256(tmp_path / "nope")
    assert raised.value.exit_code == 11


# --- the real base, built once per session -----------------------------------------------------


def test_real_base_is_an_unstamped_linux_executable(real_base):
    """The PyInstaller build is an executable ELF file with no payload."""
    assert check_base(real_base) == "linux"
    assert os.access(real_base, os.X_OK)


def test_real_base_sha256_takes_a_few_dozen_milliseconds(real_base):
    """Hashing the ~13 MB onefile base stays far below a second (stamping must stay fast)."""
    started = time.perf_counter()
    assert bases.base_sha256(real_base) == hashlib.sha256(real_base.read_bytes()).hexdigest()
    assert time.perf_counter() - started < 0.5


def test_real_base_is_within_the_size_target(real_base, base_build_info):
    """The onefile base stays at or under 15 MiB."""
    assert real_base.stat().st_size == base_build_info["bytes"]
    assert real_base.stat().st_size <= MAX_BASE_BYTES


def test_real_base_carries_the_agent_but_no_server_or_builder_code(real_base):
    """The spec's excludes hold: agent modules are in, the server, builder and their libraries are not."""
    listing = subprocess.run([str(ARCHIVE_VIEWER), "--list", "--recursive", str(real_base)],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    names = set(re.findall(r"'([^']+)'\s*$", listing, flags=re.MULTILINE))
    top = {re.split(r"[./]", name)[0] for name in names}
    assert {"agent.cli", "sosqueue.payload", "agent.module", "agent.connect.channel", "pystray", "PIL",
            "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "PIL.IcoImagePlugin", "websockets.sync.client"} <= names | top
    assert not top & {"server", "builder", "branding", "tests", "fastapi", "starlette", "uvicorn", "sqlalchemy",
                      "alembic", "pydantic", "psycopg", "httpx", "PyInstaller", "pytest", "numpy", "requests",
                      "urllib3", "charset_normalizer", "idna", "werkzeug", "asyncio", "multiprocessing"}


def test_real_base_leaves_out_unused_pillow_codecs_and_the_desktops_libraries(real_base):
    """No AVIF, WebP or colour-profile codec (nor libstdc++, which only AVIF needed); X11 and
    fontconfig come from the desktop, while Tcl/Tk, Xft, OpenSSL and Pillow's JPEG stay."""
    listing = subprocess.run([str(ARCHIVE_VIEWER), "--list", str(real_base)],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    files = [name for name in re.findall(r"'([^']+)'", listing) if ".so" in name]
    everywhere = {_library_stem(name) for name in files}
    # Not Pillow's own copies, whose names carry a hash (pillow.libs/libfreetype-083ff72c.so.6, linked from the top).
    own_copies = {_library_stem(name) for name in files if "/" not in name and not re.search(r"-[0-9a-f]{8}\.so", name)}
    assert not everywhere & {"libavif", "libwebp", "liblcms2", "libstdc++", "libreadline", "_avif", "_webp",
                             "_imagingcms"}
    assert not own_copies & {"libX11", "libfontconfig", "libfreetype", "libexpat", "libz"}
    assert {"libtcl8.6", "libtk8.6", "libXft", "libssl", "libcrypto", "libjpeg", "_imaging", "_imagingft"} <= everywhere


def _library_stem(name: str) -> str:
    """``libjpeg`` of ``pillow.libs/libjpeg-8a13c6e0.so.62``, ``_imaging`` of ``PIL/_imaging.cpython-311-….so``."""
    return re.split(r"-[0-9a-f]{8}\.|\.cpython-|\.so", name.rsplit("/", 1)[-1])[0]
