"""External tools a test drives: skipped without them on a developer's machine, a failure in CI."""

import os
import shutil

import pytest


def require_tool(executable: str, debian_package: str) -> str:
    """The path of ``executable``; without it the test is skipped, or fails under ``CI=true``
    (scripts/setup installs every package of scripts/apt-packages.txt there)."""
    path = shutil.which(executable)
    if path is None:
        message = f"{executable} is not installed; install it with: apt-get install {debian_package}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
