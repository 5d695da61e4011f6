"""Where installers are built: a private folder inside ``--out``, renamed into place at the end,
so a failure never leaves a half-written installer behind."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sosqueue.errors import OutputError


@contextmanager
def staging(out_dir: Path) -> Iterator[Path]:
    """A private folder inside ``out_dir`` to build in; removed afterwards, whatever happens.

    :raises OutputError: if ``out_dir`` cannot be created or written to.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} is a file, not a folder; choose another --out")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".sosqueue-package-", dir=out_dir))
    except OSError as error:
        raise OutputError(f"cannot write to {out_dir} ({error.strerror or error}); choose another --out") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish(built: Path, target: Path) -> Path:
    """Move the finished installer into place in one step (same folder, so an atomic rename)."""
    try:
        os.replace(built, target)
    except OSError as error:
        raise OutputError(f"cannot write {target} ({error.strerror or error}); choose another --out") from None
    return target
