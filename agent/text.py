"""Text from the server made fit for one line on screen."""

MAX_NAME = 80  # names come from the server; a very long one must not stretch a window


def short(text: str) -> str:
    """One line of at most :data:`MAX_NAME` characters (control characters become spaces)."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
    return line if len(line) <= MAX_NAME else line[:MAX_NAME - 1] + "…"
