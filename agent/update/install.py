"""Putting a new agent in place: download, stamp, preflight, swap, restart and roll back.

Everything here takes plain paths and commands, so tests drive it with small real programs.
The on-disk protocol, for an executable ``E`` (``Acme Help`` or ``Acme Help.exe``):

1. ``.E.<random>.download`` in E's own folder (same file system, so the last step is a rename):
   the base agent as it arrives, hashed on the way.
2. ``.E.<random>.new``: that base with E's own payload stamped on; it must start
   (``--print-config``, exit 0, the same module id) or it is removed and E stays as it is.
3. The swap: E's current file is kept as ``E.previous``, the new one becomes ``E``. POSIX: a hard
   link (or copy) ``E`` → ``E.previous``, then ``rename(new, E)``, so ``E`` always exists.
   Windows cannot overwrite a running program but can rename it: ``rename(E, E.previous)``,
   then ``rename(new, E)`` (undone if the second rename fails).
4. The restart: the old process lets go of everything, starts ``E --tray --confirm-start C`` and
   waits for the file ``C``, which the new process creates once it runs as the agent. No ``C``
   in time: the new process is killed, ``E.previous`` is renamed back over ``E`` and started.
   The next update check of a running agent removes an ``E.previous`` it no longer needs.
"""

import glob
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from agent.cli import CONFIRM_OPTION
from agent.errors import UpdateFailed, UpdateRefused
from sosqueue import payload
from sosqueue.updates import MAX_UPDATE_BYTES, Offer

log = logging.getLogger("sosqueue.agent.update")

PREVIOUS_SUFFIX = ".previous"
PREFLIGHT_TIMEOUT = 60.0  # a onefile agent unpacks itself first: slow disks, virus scanners
RESTART_TIMEOUT = 60.0
LEFTOVER_SECONDS = 3600.0  # younger staging files may belong to an update running now (--update)
MISMATCH = "the download does not match the signed offer: not installed"


@dataclass(frozen=True)
class Swap:
    """A new agent put in place: ``executable`` is the new one, ``previous`` the one it replaced."""

    executable: Path
    previous: Path


def previous_of(executable: Path) -> Path:
    return executable.with_name(executable.name + PREVIOUS_SUFFIX)


def staging_file(executable: Path, suffix: str) -> Path:
    """A new, empty hidden file beside ``executable`` (same file system: renames are atomic)."""
    descriptor, name = tempfile.mkstemp(dir=executable.parent, prefix=f".{executable.name}.", suffix=suffix)
    os.close(descriptor)
    return Path(name)


def remove_leftovers(executable: Path, *, older_than: float = LEFTOVER_SECONDS) -> None:
    """Remove staging files an interrupted update left beside ``executable`` (the app quit during a download)."""
    cutoff = time.time() - older_than
    for suffix in (".download", ".new"):
        for leftover in executable.parent.glob(f".{glob.escape(executable.name)}.*{suffix}"):
            try:
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()
                    log.info("removed %s, left by an interrupted update", leftover)
            except OSError as error:
                log.info("cannot remove %s: %s", leftover, error.strerror or error)


def download(chunks: Iterable[bytes], offer: Offer, target: Path) -> None:
    """Write ``chunks`` to ``target``, refusing more than the offer's size; the result must be the offer's file.

    :raises UpdateRefused: if the bytes are not exactly the signed offer's (size, SHA-256).
    """
    limit = min(offer.size, MAX_UPDATE_BYTES)
    digest, size = hashlib.sha256(), 0
    with closing(iter(chunks)) as stream, open(target, "wb") as handle:
        for chunk in stream:
            size += len(chunk)
            if size > limit:
                log.info("the download is larger than the offer's %d bytes; stopped", offer.size)
                raise UpdateRefused(MISMATCH)
            digest.update(chunk)
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if size != offer.size or digest.hexdigest() != offer.sha256:
        log.info("downloaded %d bytes with SHA-256 %s; the offer says %d bytes, %s",
                 size, digest.hexdigest(), offer.size, offer.sha256)
        raise UpdateRefused(MISMATCH)


def restamp(base: Path, own: Path, offer: Offer, output: Path) -> None:
    """Stamp the payload of the module file ``own`` onto ``base``, the offer's base, recording which it is.

    Only ``updates.base_sha256`` and ``.base_built`` change: the brand, options, token and assets
    carry over as they are.
    """
    current = payload.read(own)
    config = json.loads(json.dumps(current.config))  # a deep copy
    config.setdefault("updates", {}).update(base_sha256=offer.sha256, base_built=offer.built)
    if not offer.built:
        del config["updates"]["base_built"]
    try:
        payload.stamp(base, payload.Payload(config=config, assets=dict(current.assets)), output)
    except payload.PayloadError as error:
        raise UpdateRefused(f"the offered agent cannot carry this module ({error}): not installed") from None


def preflight(program: Path, module_id: str, *, timeout: float = PREFLIGHT_TIMEOUT) -> None:
    """Prove that ``program`` starts as this module: ``--print-config`` exits 0 with the same module id.

    :raises UpdateRefused: if it does not.
    """
    try:
        returncode, output = _run([str(program), "--print-config"], timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UpdateRefused(f"the new agent did not answer within {timeout:.0f} s: not installed") from None
    except OSError as error:
        raise UpdateRefused(f"the new agent cannot be started ({error.strerror or error}): not installed") from None
    if returncode != 0:
        raise UpdateRefused(f"the new agent does not start (exit code {returncode}): not installed")
    try:
        shown = json.loads(output)["module"]["id"]
    except (ValueError, KeyError, TypeError):
        shown = None
    if shown != module_id:
        raise UpdateRefused("the new agent does not show this module's configuration: not installed")


def swap(staged: Path, executable: Path, *, windows: bool = sys.platform == "win32") -> Swap:
    """Put ``staged`` in place of ``executable``, keeping the current file as ``<name>.previous``.

    :raises UpdateFailed: if the files cannot be moved; ``executable`` is then as it was.
    """
    previous = previous_of(executable)
    try:
        previous.unlink(missing_ok=True)
        (_swap_windows if windows else _swap_posix)(staged, executable, previous)
    except OSError as error:
        raise UpdateFailed(f"the new agent cannot be put in place of {executable} "
                           f"({error.strerror or error}): not installed") from None
    log.info("installed the new agent as %s; the one it replaced is %s", executable, previous)
    return Swap(executable, previous)


def _swap_posix(staged: Path, executable: Path, previous: Path) -> None:
    try:
        os.link(executable, previous)
    except OSError:  # a file system without hard links
        shutil.copy2(executable, previous)
    os.replace(staged, executable)


def _swap_windows(staged: Path, executable: Path, previous: Path) -> None:
    os.replace(executable, previous)  # a running program may be renamed, not overwritten
    try:
        os.replace(staged, executable)
    except OSError:
        os.replace(previous, executable)
        raise


def roll_back(installed: Swap) -> None:
    """Move the previous agent back over the new one (atomic)."""
    os.replace(installed.previous, installed.executable)


def restart(installed: Swap, confirm: Path, *, arguments: tuple[str, ...] = ("--tray",),
            timeout: float = RESTART_TIMEOUT) -> bool:
    """Start the new agent and wait for it to confirm; if it does not, restore and start the previous one.

    The caller has already let go of the single-instance lock and the tray.

    :param confirm: the file the new agent creates once it runs (``--confirm-start``).
    :return: ``True`` if the new agent runs, ``False`` if the previous one was restored.
    :raises OSError: if the previous agent cannot be restored.
    """
    confirm.unlink(missing_ok=True)
    try:
        process = start([str(installed.executable), *arguments, CONFIRM_OPTION, str(confirm)])
    except OSError as error:
        log.info("the new agent cannot be started: %s", error.strerror or error)
        process = None
    if process is not None and _confirmed(process, confirm, timeout):
        confirm.unlink(missing_ok=True)
        return True
    if process is not None:
        _stop(process)
    roll_back(installed)
    start([str(installed.executable), *arguments])
    return False


def start(command: list[str]) -> subprocess.Popen:
    """Start an agent on its own: it outlives this process and shares no console with it."""
    options: dict = {"start_new_session": True} if os.name == "posix" else {
        "creationflags": subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP}
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=child_environment(), close_fds=True, **options)


def child_environment() -> dict[str, str]:
    """This environment without what a PyInstaller onefile parent leaves for its own children.

    Without this, a onefile agent started from a onefile agent may take the parent's unpacked
    files (the old version's) instead of unpacking its own.
    """
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("_PYI_") and key != "_MEIPASS2"}
    if getattr(sys, "frozen", False):
        environment["PYINSTALLER_RESET_ENVIRONMENT"] = "1"
        for variable in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
            original = environment.pop(f"{variable}_ORIG", None)
            if original is not None:
                environment[variable] = original
            else:
                environment.pop(variable, None)
    return environment


def _confirmed(process: subprocess.Popen, confirm: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if confirm.exists():
            return True
        if process.poll() is not None:
            return confirm.exists()  # created just before it exited
        time.sleep(0.1)
    return confirm.exists()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        _kill(process)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        log.warning("the new agent (pid %d) does not stop", process.pid)


def _run(command: list[str], *, timeout: float) -> tuple[int, str]:
    options: dict = {"start_new_session": True} if os.name == "posix" else {}
    with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          cwd=Path(command[0]).parent, env=child_environment(), **options) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            raise
    return process.returncode, output.decode("utf-8", "replace")


def _kill(process: subprocess.Popen) -> None:
    # A onefile agent is two processes (the unpacker and Python): end the whole group.
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        process.kill()
