"""Find and read the module's own configuration: stamped into the executable, or ``--module``."""

import sys
from pathlib import Path

from sosqueue import module_config
from sosqueue import payload
from agent.errors import DamagedModule


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
    location = path or own_location()
    if location is None:
        raise DamagedModule("no module configuration: run from source with --module PATH")
    try:
        return module_config.parse(payload.read(location))
    except payload.NoPayload:
        raise DamagedModule("it carries no configuration; it may be the unbranded base agent") from None
    except payload.PayloadError as error:
        raise DamagedModule(str(error)) from None
    except OSError as error:
        raise DamagedModule(f"cannot read {location}: {error.strerror}") from None


def launch_command(module_path: Path | None) -> list[str]:
    """How a shortcut starts this same agent again (with the same module when from source)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    command = [sys.executable, "-m", "agent"]
    return command + ["--module", str(module_path.resolve())] if module_path else command
