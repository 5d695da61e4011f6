"""What the agent may send about this computer (the customer sees it before it is sent)."""

import locale
import socket

from agent import __version__


def collect() -> dict:
    import platform  # only for the help window's form: not in an idle agent's memory

    return {
        "os": f"{platform.system()} {platform.release()}",
        "os_version": platform.version()[:200],
        "machine": platform.machine(),
        "hostname": socket.gethostname()[:100],
        "agent_version": __version__,
        "locale": _locale()[:50],
    }


def _locale() -> str:
    try:
        return locale.getlocale()[0] or ""
    except ValueError:  # a locale name Python cannot parse ("unknown locale")
        return ""
