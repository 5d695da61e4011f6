"""The customer's support agent: SOS shortcut, tray icon and help window."""

__version__ = "0.1.0"
