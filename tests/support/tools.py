"""External tools a test drives: skipped without them on a developer's machine, a failure in CI."""

import os
import shutil

import pytest


def require_tool(executable: str, debian_package: str) -> str:
    """The path of ``executable``; without it the test is skipped, or fails under ``CI=true``
    (scripts/setup installs every package of scripts/apt-packages.txt there)."""
    path = shutil.which(executable)
    if path is None:
        _missing(f"{executable} is not installed; install it with: apt-get install {debian_package}")
    return path


def require_library(name: str, debian_package: str) -> str:
    """The file name of the shared library ``name`` (``mimalloc`` for ``libmimalloc.so.2``), as
    the dynamic loader finds it; skipped or failed without it as :func:`require_tool`."""
    import ctypes.util

    found = ctypes.util.find_library(name)
    if found is None:
        _missing(f"lib{name} is not installed; install it with: apt-get install {debian_package}")
    return found


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
