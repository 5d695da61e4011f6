"""The memory allocator ``sosqueue serve`` runs on: mimalloc where the system has it.

After a crowd of event-stream watchers leaves, CPython's own allocator keeps each 1 MiB arena
that still holds one object made while the crowd was there: 10,000 watchers left the server at
about 2× its memory before they came (``benchmarks/server_watchers.py``). mimalloc (Debian and
Ubuntu: ``libmimalloc2.0``) gives back each 64 KiB page as it empties; with every Python object
in it (``PYTHONMALLOC=malloc``) and emptied pages given back at once (``MIMALLOC_DECOMMIT_DELAY=0``)
the server returns to within 1.2× of its memory before the crowd, for about 3 % more CPU per
creation. glibc's malloc alone (``PYTHONMALLOC=malloc``) returns as far, for 10–17 % more.

An allocator is chosen before the interpreter starts, so ``serve`` starts itself again (the same
process: ``execve``) with those variables when it should change. ``auto`` does so on Linux when
mimalloc is installed and the environment does not choose already (``PYTHONMALLOC``); ``mimalloc``
insists; ``python`` runs on CPython's allocator.
"""

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping

AUTO, MIMALLOC, PYTHON = "auto", "mimalloc", "python"
CHOICES = (AUTO, MIMALLOC, PYTHON)
#: The environment variable that chooses, as ``serve --allocator`` does.
ENVIRONMENT = "SOSQUEUE_ALLOCATOR"
#: Set in the environment ``serve`` starts itself again with: it does not try a second time.
TRIED = "SOSQUEUE_ALLOCATOR_TRIED"


class AllocatorMissing(Exception):
    """``--allocator mimalloc`` where mimalloc is not installed, cannot be loaded, or cannot be
    chosen any more (the command was not started as ``serve``)."""

    def __init__(self, message: str = "mimalloc is not installed: install it (Debian and Ubuntu: apt install "
                                      "libmimalloc2.0) or choose --allocator auto or python"):
        super().__init__(message)


def process_function(name: str):
    """The C function ``name`` as this process has it loaded (the C library's, or a preloaded
    allocator's: its symbols are global), or ``None`` where it has none (mimalloc's when the process
    does not run on it, glibc's on musl)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):  # no such symbol; or no dlopen(NULL): Windows
        return None


def running_on_mimalloc() -> bool:
    """Whether this process's allocations go to mimalloc."""
    return process_function("mi_version") is not None


def find_mimalloc() -> str | None:
    """The file name of the system's mimalloc library, as the dynamic loader finds it, or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    return ctypes.util.find_library("mimalloc")


def environment_for(choice: str, environ: Mapping[str, str], *, on_mimalloc: bool,
                    library: str | None) -> dict[str, str] | None:
    """The environment to start again with, to run on ``choice``; ``None`` to go on as this process is.

    :raises AllocatorMissing: ``choice`` is mimalloc and ``library`` is ``None``, or it was tried.
    """
    if choice == PYTHON or on_mimalloc:
        return None
    if environ.get(TRIED):  # started again, and still not on mimalloc
        if choice == MIMALLOC:
            tried = environ.get("LD_PRELOAD", "").split(" ")[0]
            raise AllocatorMissing(f"mimalloc ({tried}) could not be loaded; choose --allocator auto or python")
        return None
    preloaded = environ.get("LD_PRELOAD", "")
    if choice == AUTO and (environ.get("PYTHONMALLOC") or _names_an_allocator(preloaded) or library is None):
        return None  # the environment chose (an allocator preloaded: jemalloc, tcmalloc …), or nothing to choose
    if library is None:
        raise AllocatorMissing()
    return {"MIMALLOC_DECOMMIT_DELAY": "0", **environ, "PYTHONMALLOC": "malloc",
            "LD_PRELOAD": f"{library} {preloaded}".strip(), TRIED: "1"}


def restart_command(argv: list[str], orig_argv: list[str], executable: str) -> list[str] | None:
    """The command that starts this ``serve`` again: its own script where it is one (the process
    keeps its name, ``sosqueue``), else the interpreter with its arguments; ``None`` where the
    command line is not the one ``serve`` came from (a program that called the command itself)."""
    if "serve" not in argv[1:]:
        return None
    if os.path.isfile(argv[0]) and os.access(argv[0], os.X_OK):
        return argv
    return [executable, *orig_argv[1:]] if orig_argv[-len(argv) + 1:] == argv[1:] else None


def adopt(choice: str) -> str:
    """Run on ``choice``: start this command again if that changes the allocator (it does not
    return then); else the name of the allocator this process runs on.

    :raises AllocatorMissing: see :func:`environment_for`; or mimalloc cannot be loaded, or this
        command cannot be started again, while ``choice`` insists on it.
    """
    on_mimalloc = running_on_mimalloc()
    library = None if on_mimalloc or choice == PYTHON else find_mimalloc()
    if library is not None and not _loads(library):
        library = None
    environment = environment_for(choice, os.environ, on_mimalloc=on_mimalloc, library=library)
    command = restart_command(sys.argv, sys.orig_argv, sys.executable) if environment is not None else None
    if command is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(command[0], command, environment)
    if environment is not None and choice == MIMALLOC:
        raise AllocatorMissing("mimalloc is chosen before Python starts: run `sosqueue serve` itself, or set "
                               "LD_PRELOAD to mimalloc and PYTHONMALLOC=malloc")
    if on_mimalloc:
        return MIMALLOC
    return "malloc" if os.environ.get("PYTHONMALLOC", "").startswith("malloc") else PYTHON


def _loads(library: str) -> bool:
    """Whether the dynamic loader can load ``library``: preloading one it cannot only prints an error."""
    try:
        ctypes.CDLL(library)
        return True
    except OSError:
        return False


def _names_an_allocator(preloaded: str) -> bool:
    return any("malloc" in os.path.basename(entry) for entry in preloaded.replace(":", " ").split())
