"""Windows bindings: registry locations, shell folder names and the two APIs the backend uses.

``winreg`` and the ``WScript.Shell`` COM object are loaded on first use, so the backend can be
imported anywhere and tested with stand-ins for both.
"""

#: The per-user (HKCU) or per-machine (HKLM) key whose values Windows runs at login.
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
HKEY_CURRENT_USER = "HKEY_CURRENT_USER"
HKEY_LOCAL_MACHINE = "HKEY_LOCAL_MACHINE"

#: ``WScript.Shell.SpecialFolders`` names.
DESKTOP = "Desktop"
ALL_USERS_DESKTOP = "AllUsersDesktop"
PROGRAMS = "Programs"
ALL_USERS_PROGRAMS = "AllUsersPrograms"

#: ``IWshShortcut.WindowStyle``: activate and show the window normally.
SW_SHOWNORMAL = 1

#: Where per-machine data lives when ``%ProgramData%`` is not set.
PROGRAM_DATA = r"C:\ProgramData"


def load_winreg():
    """The ``winreg`` module (Windows only)."""
    import winreg

    return winreg


def wscript_shell():
    """A ``WScript.Shell`` COM object (needs pywin32)."""
    from win32com.client import Dispatch

    return Dispatch("WScript.Shell")

