"""The customer's support agent: SOS shortcut, tray icon and help window."""

from sosqueue import __version__  # the agent is the shared core's version: one number per release

__all__ = ["__version__"]
