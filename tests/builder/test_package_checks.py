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
    """An ELF module into an MSI: exit 3, naming both platforms and both ways out, nothing written."""
    module = stamp_module(tmp_path / "modules", product=unique_product())
    assert_refused(package(sosqueue, "msi", module, out), ExitCode.CONFIG,
                   "is a Linux module; an MSI wraps Windows modules: build one with sosqueue build --base <the Windows "
                   "base agent>, or package this one with sosqueue package deb")
    assert not out.exists() or folder_listing(out) == []


def test_deb_refuses_a_windows_module_naming_both_platforms(sosqueue, tmp_path, out, pe_base):
    """A PE module into a .deb: exit 3, naming both platforms and both ways out."""
    module = stamp_module(tmp_path / "modules", product=unique_product(), base=pe_base, name="Support.exe")
    assert_refused(package(sosqueue, "deb", module, out, "--maintainer", "Acme IT <it@acme.example>"),
                   ExitCode.CONFIG, "is a Windows module; a .deb wraps Linux modules: build one with sosqueue build "
                   "--base <the Linux base agent>, or package this one with sosqueue package msi")
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
    built = package(sosqueue, "deb", module, out, "--json", "--maintainer", "Acme IT <it@acme.example>")
    assert built.code == ExitCode.OK, built.err
    assert json.loads(built.out)["version"] == "4.5.6"
    again = package(sosqueue, "deb", module, tmp_path / "again", "--json", "--version", "4.5.7", "--maintainer",
                    "Acme IT <it@acme.example>")
    assert json.loads(again.out)["version"] == "4.5.7"
