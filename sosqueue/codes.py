"""Session codes: ``s`` plus eight random digits, shown as ``s12-345-678``."""

import re
import secrets

_DIGITS = 8
_SEPARATORS = re.compile(r"[\s\-_.]+")
_CANONICAL = re.compile(r"s\d{8}")


class InvalidCode(ValueError):
    """The text is not a session code in any accepted spelling."""


def generate() -> str:
    """A new random code in canonical form (``s12345678``); uniqueness is the database's job."""
    return "s" + "".join(str(secrets.randbelow(10)) for _ in range(_DIGITS))


def normalize(text: str) -> str:
    """Canonical form of a code typed as ``s12345678``, ``S12-345-678`` or ``12 345 678``."""
    compact = _SEPARATORS.sub("", text.strip()).lower()
    if not compact.startswith("s"):
        compact = "s" + compact
    if not _CANONICAL.fullmatch(compact) or not compact.isascii():
        raise InvalidCode(f"{text!r} is not a session code; it looks like s12-345-678")
    return compact


def display(code: str) -> str:
    """``s12345678`` as the customer reads it out: ``s12-345-678``."""
    digits = code[1:]
    return f"s{digits[:2]}-{digits[2:5]}-{digits[5:]}"
