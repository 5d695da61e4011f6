"""Find and read the module's own configuration: stamped into the executable, or ``--module``."""

import logging
import sys
from pathlib import Path

from sosqueue import module_config
from sosqueue import payload
from agent.errors import DamagedModule, TamperedModule, UnbrandedAgent

log = logging.getLogger("sosqueue.agent")


def own_location() -> Path | None:
    """The stamped file this process runs from: the executable, or a macOS ``.app`` bundle."""
    if not getattr(sys, "frozen", False):
        return None
    executable = Path(sys.executable).resolve()
    bundle = executable.parents[2] if len(executable.parents) > 2 else None
    if sys.platform == "darwin" and bundle is not None and bundle.suffix == ".app":
        return bundle
    return executable


def load(path: Path | None = None) -> module_config.ModuleConfig:
    """The module's configuration, after verifying the whole file (program and payload).

    :raises UnbrandedAgent: if the program itself carries none (the base agent run by itself).
    :raises TamperedModule: if its configuration was changed after it was built.
    :raises DamagedModule: if it is cut short, its program is damaged, it cannot be read, or ``path``
        (``--module``) is no module file.
    """
    location = path or own_location()
    if location is None:
        raise DamagedModule("no module configuration: run from source with --module PATH")
    try:
        verified = payload.verify(location)
        config = module_config.parse(verified.payload)
    except payload.NoPayload as error:
        if path is None:
            raise UnbrandedAgent() from None
        raise DamagedModule(f"{path} carries no module configuration" if path.exists() else str(error)) from None
    except payload.TamperedPayload as error:
        raise TamperedModule(str(error)) from None
    except payload.PayloadError as error:
        raise DamagedModule(str(error)) from None
    except OSError as error:
        raise DamagedModule(f"cannot read {location}: {error.strerror or error}") from None
    if verified.program is payload.Program.UNRECORDED:
        log.info("%s was built before modules recorded their base agent: its program cannot be verified", location)
    return config


def launch_command(module_path: Path | None) -> list[str]:
    """How a shortcut starts this same agent again (with the same module when from source)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    command = [sys.executable, "-m", "agent"]
    return command + ["--module", str(module_path.resolve())] if module_path else command
