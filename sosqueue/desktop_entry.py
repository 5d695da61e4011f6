"""freedesktop.org ``.desktop`` files (Desktop Entry Specification 1.4): one writer for the
agent's own shortcuts and the ``.deb``'s."""

import re

#: The theme icon used when the module has no icon.
FALLBACK_ICON = "help-browser"

#: The X11 class (WM_CLASS res_class) of the agent's windows, for ``StartupWMClass``: docks tie
#: a window to the launcher whose StartupWMClass is its class. Tk makes it from the root's
#: ``className`` (``agent.ui.create_root``'s ``"SosQueue"``) with only the first letter capital.
WINDOW_CLASS = "Sosqueue"

# Characters that make an Exec argument need double quotes (Desktop Entry Spec, "The Exec key").
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = re.compile(r'(["`$\\])')


def desktop_entry(name: str, command: list[str], *, icon: str | None, comments: dict[str, str],
                  extra: dict[str, str] | None = None, try_exec: bool = False) -> str:
    """A ``.desktop`` file that runs ``command``; ``comments`` maps a language ("" for the
    default) to the entry's comment."""
    keys = {
        "Type": "Application",
        "Version": "1.4",
        "Name": escape_value(name),
        **{key: escape_value(text) for key, text in localized_keys("Comment", comments).items()},
        "Exec": exec_value(command),
        **({"TryExec": escape_value(command[0])} if try_exec else {}),
        "Icon": escape_value(icon or FALLBACK_ICON),
        "Terminal": "false",
        **(extra or {}),
    }
    return "[Desktop Entry]\n" + "".join(f"{key}={value}\n" for key, value in keys.items())


def exec_argument(argument: str) -> str:
    """One argument of an ``Exec`` command line, quoted as the specification requires."""
    if argument and not _RESERVED.intersection(argument):
        quoted = argument
    else:
        quoted = '"' + _ESCAPED_IN_QUOTES.sub(r"\\\1", argument) + '"'
    return quoted.replace("%", "%%")  # a lone % would be read as a field code


def exec_value(command: list[str]) -> str:
    """The ``Exec=`` value for ``command``: quoted arguments, then escaped as a string value."""
    if "%" in command[0]:
        # GLib looks the program up before it turns %% back into %, so such a program would
        # never be found: let sh start it (its $0) instead.
        command = ["sh", "-c", 'exec "$0" "$@"', *command]
    return escape_value(" ".join(exec_argument(argument) for argument in command))


def escape_value(text: str) -> str:
    """``text`` escaped as a key file string value (readers undo this before parsing Exec quotes)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def localized_keys(key: str, texts: dict[str, str]) -> dict[str, str]:
    """``{"": a, "de": b}`` as desktop entry keys ``{"Key": a, "Key[de]": b}``."""
    return {(f"{key}[{language}]" if language else key): text for language, text in texts.items()}
