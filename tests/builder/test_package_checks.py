"""What every installer format checks once, before building: the module's platform and version."""

import json
from pathlib import Path

import pytest

from sosqueue.errors import ExitCode
from tests.builder.conftest import folder_listing
from tests.builder.packaging import stamp_module, unique_product
from tests.builder.test_cli_build import assert_refused
from tests.support.bases import minimal_pe


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out"


@pytest.fixture
def pe_base(tmp_path) -> Path:
    base = tmp_path / "pe" / "sosqueue-agent.exe"
    base.parent.mkdir()
    base.write_bytes(minimal_pe())
    return base


def package(sosqueue, installer: str, module: Path, out: Path, *extra):
    return sosqueue("package", installer, "--module", module, "--out", out, *extra)


def test_msi_refuses_a_linux_module_naming_both_platforms(sosqueue, tmp_path, out):
    """An ELF module into an MSI: exit 3, "a linux module; an MSI wraps a windows module", nothing written."""
    module = stamp_module(tmp_path / "modules", product=unique_product())
    assert_refused(package(sosqueue, "msi", module, out), ExitCode.CONFIG,
                   "is a linux module; an MSI wraps a windows module", "--base")
    assert not out.exists() or folder_listing(out) == []


def test_deb_refuses_a_windows_module_naming_both_platforms(sosqueue, tmp_path, out, pe_base):
    """A PE module into a .deb: exit 3, "a windows module; a .deb wraps a linux module"."""
    module = stamp_module(tmp_path / "modules", product=unique_product(), base=pe_base, name="Support.exe")
    assert_refused(package(sosqueue, "deb", module, out), ExitCode.CONFIG,
                   "is a windows module; a .deb wraps a linux module", "--base")
    assert not out.exists() or folder_listing(out) == []


@pytest.mark.parametrize("installer", ["deb", "msi"])
def test_module_without_a_version_needs_one(sosqueue, tmp_path, out, pe_base, installer):
    """A module built from a config without a version, and no --version: exit 3 naming both ways."""
    base = pe_base if installer == "msi" else Path("/bin/true")
    module = stamp_module(tmp_path / "modules", product=unique_product(), base=base, version="")
    assert_refused(package(sosqueue, installer, module, out), ExitCode.CONFIG, "carries no version",
                   "[module] version", "--version")
    assert not out.exists() or folder_listing(out) == []


def test_deb_takes_the_modules_version_unless_version_is_given(sosqueue, tmp_path, out):
    """Without --version the installer has the module's; --version still wins."""
    module = stamp_module(tmp_path / "modules", product=unique_product(), version="4.5.6")
    built = package(sosqueue, "deb", module, out, "--json")
    assert built.code == ExitCode.OK, built.err
    assert json.loads(built.out)["version"] == "4.5.6"
    again = package(sosqueue, "deb", module, tmp_path / "again", "--json", "--version", "4.5.7")
    assert json.loads(again.out)["version"] == "4.5.7"
