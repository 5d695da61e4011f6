"""External tools: the install hint when missing, the last stderr line on failure, the exact argv."""

import subprocess
import sys
from pathlib import Path

import pytest

from sosqueue import payload
from sosqueue.errors import ExitCode, ToolFailed, ToolMissing
from builder.tools import Tool
from builder.tools.dpkg_deb import DpkgDeb
from builder.tools.osslsigncode import OsslSigncode
from builder.tools.pyinstaller import PyInstaller
from builder.tools.wixl import MsiInfo, Wixl

DEBIAN_TOOLS = [(DpkgDeb, "dpkg-deb", "dpkg"), (OsslSigncode, "osslsigncode", "osslsigncode"),
                (Wixl, "wixl", "wixl"), (MsiInfo, "msiinfo", "msitools")]

WXS = """<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="$(var.ProductName)" Language="1033" Version="1.0.0" Manufacturer="Acme"
           UpgradeCode="6F3C1C2A-8E0B-4B7B-9F47-2B1D4F0C9A11">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="product.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="Acme">
          <Component Id="Readme" Guid="1D5C0F55-3B3E-4B8B-9D4A-7E9C2C1B0F22" Win64="yes">
            <File Id="ReadmeTxt" Source="readme.txt" KeyPath="yes"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1"><ComponentRef Id="Readme"/></Feature>
  </Product>
</Wix>
"""


class RecordingRunner:
    """Stands in for ``subprocess.run``: records every argv and answers with a fixed result."""

    def __init__(self, *, returncode: int = 0, stdout: str = "", stderr: str = ""):
        self.calls: list[list[str]] = []
        self.kwargs: list[dict] = []
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __call__(self, command, **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(list(command))
        self.kwargs.append(kwargs)
        return subprocess.CompletedProcess(command, self.returncode, self.stdout, self.stderr)


def installed(tool_class, runner: RecordingRunner):
    return tool_class(runner=runner, which=lambda name: f"/usr/bin/{name}")


@pytest.mark.parametrize("tool_class, executable, package", DEBIAN_TOOLS)
def test_missing_tool_says_which_debian_package_to_install(tool_class, executable, package):
    """When ``which`` finds nothing, verify() raises ToolMissing (exit 14) with the apt-get line."""
    looked_up = []
    tool = tool_class(which=lambda name: looked_up.append(name))
    assert tool.exists() is False
    with pytest.raises(ToolMissing) as raised:
        tool.verify()
    assert str(raised.value) == f"{executable} is not installed; install it with: apt-get install {package}"
    assert raised.value.exit_code == ExitCode.TOOL_MISSING
    assert looked_up == [executable, executable]


@pytest.mark.parametrize("tool_class, executable, package", DEBIAN_TOOLS)
def test_missing_tool_never_runs(tool_class, executable, package):
    """run() checks first: a missing tool is never started."""
    runner = RecordingRunner()
    with pytest.raises(ToolMissing):
        tool_class(runner=runner, which=lambda name: None).run(["--version"])
    assert runner.calls == []


@pytest.mark.parametrize("tool_class, executable, package", DEBIAN_TOOLS)
def test_installed_tools_are_found_on_this_machine(tool_class, executable, package):
    """The Debian tools the builder drives are installed here (scripts/setup installs them)."""
    assert Path(tool_class().verify()).name == executable


def test_pyinstaller_runs_in_this_python():
    """PyInstaller is found as a module of this environment and runs with this interpreter."""
    assert PyInstaller().exists()
    assert PyInstaller().verify() == sys.executable


def test_failed_run_shows_the_tools_last_stderr_line(tmp_path):
    """A real failing ``dpkg-deb --build``: ToolFailed (exit 15) with the exit status and dpkg's last line."""
    with pytest.raises(ToolFailed) as raised:
        DpkgDeb().build(Path("/nonexistent"), tmp_path / "out.deb")
    message = str(raised.value)
    assert message.startswith("dpkg-deb failed (2): dpkg-deb: error: ")
    assert "/nonexistent/DEBIAN/control" in message
    assert "\n" not in message
    assert raised.value.exit_code == ExitCode.TOOL_FAILED
    assert not (tmp_path / "out.deb").exists()


@pytest.mark.parametrize("stdout, stderr, shown", [
    ("", "first\nsecond\n\n", "second"),
    ("only stdout\n", "", "only stdout"),
    ("", "", "no output"),
])
def test_failure_message_falls_back_to_stdout_then_to_no_output(stdout, stderr, shown):
    """Without stderr the last stdout line is shown; without either, "no output"."""
    runner = RecordingRunner(returncode=3, stdout=stdout, stderr=stderr)
    with pytest.raises(ToolFailed, match=rf"^wixl failed \(3\): {shown}$"):
        installed(Wixl, runner).run(["x"])


def test_run_captures_text_output_in_the_given_folder(tmp_path):
    """Tools run with captured text output, from ``cwd`` when given, with string arguments."""
    runner = RecordingRunner()
    installed(DpkgDeb, runner).run([Path("/a b"), 5], cwd=tmp_path)
    assert runner.calls == [["/usr/bin/dpkg-deb", "/a b", "5"]]
    [kwargs] = runner.kwargs
    assert (kwargs["cwd"], kwargs["capture_output"], kwargs["text"]) == (tmp_path, True, True)


def test_osslsigncode_sign_argv():
    """Signing: certificate, key, the product as description, SHA-256, then input and output."""
    runner = RecordingRunner()
    signed = installed(OsslSigncode, runner).sign(Path("in.exe"), Path("out.exe"), certificate=Path("c.pem"),
                                                  key=Path("k.pem"), description="Acme Help")
    assert signed == Path("out.exe")
    assert runner.calls == [["/usr/bin/osslsigncode", "sign", "-certs", "c.pem", "-key", "k.pem", "-n", "Acme Help",
                             "-h", "sha256", "-in", "in.exe", "-out", "out.exe"]]


def test_osslsigncode_sign_argv_with_password_and_timestamp():
    """A key password and a timestamp server come before the input and output."""
    runner = RecordingRunner()
    installed(OsslSigncode, runner).sign(Path("in.exe"), Path("out.exe"), certificate=Path("c.pem"), key=Path("k.pem"),
                                         description="Acme Help", timestamp_url="http://ts.example.com",
                                         password="secret")
    assert runner.calls == [["/usr/bin/osslsigncode", "sign", "-certs", "c.pem", "-key", "k.pem", "-n", "Acme Help",
                             "-h", "sha256", "-pass", "secret", "-ts", "http://ts.example.com",
                             "-in", "in.exe", "-out", "out.exe"]]


def test_osslsigncode_verify_argv():
    """Verifying passes the CA file when given and returns osslsigncode's report."""
    runner = RecordingRunner(stdout="Signature verification: ok\n")
    report = installed(OsslSigncode, runner).verify_signature(Path("m.exe"), ca_file=Path("ca.pem"))
    assert report == "Signature verification: ok\n"
    assert runner.calls == [["/usr/bin/osslsigncode", "verify", "-in", "m.exe", "-CAfile", "ca.pem"]]


def test_wixl_build_argv():
    """wixl gets one ``-D KEY=VALUE`` per define, x64, the output and the source, in that order."""
    runner = RecordingRunner()
    output = installed(Wixl, runner).build(Path("acme.wxs"), Path("acme.msi"),
                                           defines={"ProductName": "Acme Help", "Version": "1.2.3"})
    assert output == Path("acme.msi")
    assert runner.calls == [["/usr/bin/wixl", "-D", "ProductName=Acme Help", "-D", "Version=1.2.3", "-a", "x64",
                             "-o", "acme.msi", "acme.wxs"]]


def test_wixl_build_argv_without_defines():
    """Without defines wixl gets just the architecture, output and source."""
    runner = RecordingRunner()
    installed(Wixl, runner).build(Path("acme.wxs"), Path("acme.msi"))
    assert runner.calls == [["/usr/bin/wixl", "-a", "x64", "-o", "acme.msi", "acme.wxs"]]


def test_msiinfo_argv():
    """msiinfo lists tables and exports one table."""
    runner = RecordingRunner(stdout="File\nProperty\n")
    msiinfo = installed(MsiInfo, runner)
    assert msiinfo.tables(Path("a.msi")) == ["File", "Property"]
    msiinfo.export(Path("a.msi"), "Property")
    assert runner.calls == [["/usr/bin/msiinfo", "tables", "a.msi"], ["/usr/bin/msiinfo", "export", "a.msi", "Property"]]


def test_dpkg_deb_build_argv():
    """dpkg-deb builds with root as owner of every file, with the compression asked for."""
    runner = RecordingRunner()
    output = installed(DpkgDeb, runner).build(Path("tree"), Path("acme.deb"), compression="gzip")
    assert output == Path("acme.deb")
    assert runner.calls == [["/usr/bin/dpkg-deb", "--root-owner-group", "-Zgzip", "--build", "tree", "acme.deb"]]


# --- the real tools ----------------------------------------------------------------------------


def test_real_dpkg_deb_builds_a_package(tmp_path):
    """A staged tree with a control file becomes a .deb that dpkg-deb can read back."""
    tree = tmp_path / "tree"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: acme-help\nVersion: 1.0\nArchitecture: all\nMaintainer: Acme <it@acme.example>\n"
        "Description: test package\n")
    (tree / "opt" / "acme").mkdir(parents=True)
    (tree / "opt" / "acme" / "readme.txt").write_text("hi\n")
    deb = DpkgDeb().build(tree, tmp_path / "acme.deb")
    contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True, check=True).stdout
    assert "root/root" in contents and "./opt/acme/readme.txt" in contents


def test_real_wixl_builds_an_msi_that_msiinfo_reads(tmp_path):
    """wixl turns a WiX source into an MSI; msiinfo lists its tables and the define's value."""
    (tmp_path / "readme.txt").write_text("hi\n")
    (tmp_path / "acme.wxs").write_text(WXS)
    msi = Wixl().build(tmp_path / "acme.wxs", tmp_path / "acme.msi", defines={"ProductName": "Acme Help"})
    msiinfo = MsiInfo()
    assert {"File", "Component", "Property"} <= set(msiinfo.tables(msi))
    assert "ProductName\tAcme Help" in msiinfo.export(msi, "Property")


def test_real_osslsigncode_signs_a_stamped_windows_module(windows_base, code_signing, tmp_path):
    """A stamped PE signed with a self-signed code-signing certificate verifies against it."""
    certificate, key = code_signing
    module = payload.stamp(windows_base, payload.Payload(config={"format": 1}, assets={}), tmp_path / "Acme.exe")
    tool = OsslSigncode()
    signed = tool.sign(module, tmp_path / "Acme-signed.exe", certificate=certificate, key=key, description="Acme Help")
    assert "Signature verification: ok" in tool.verify_signature(signed, ca_file=certificate)
    appended = module.read_bytes()[windows_base.stat().st_size:]
    assert appended in signed.read_bytes()  # covered by the signature, though no longer at the end


def test_real_osslsigncode_refuses_a_file_that_is_not_a_pe(code_signing, tmp_path):
    """Signing a text file fails with ToolFailed (exit 15), and no signed file appears."""
    certificate, key = code_signing
    text = tmp_path / "notes.exe"
    text.write_text("not a program\n")
    with pytest.raises(ToolFailed, match=r"^osslsigncode failed \(1\): "):
        OsslSigncode().sign(text, tmp_path / "signed.exe", certificate=certificate, key=key, description="x")
    assert not (tmp_path / "signed.exe").exists()


def test_tool_base_class_names_nothing():
    """The base Tool is abstract in practice: subclasses set name, executable and package."""
    assert (Tool.name, Tool.executable, Tool.debian_package) == ("", "", "")
