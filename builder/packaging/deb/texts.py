"""Every text the ``.deb`` shows people, together, in English ("") and German ("de").

The desktop entries carry their translations as ``Key[de]`` lines; the control file's
description is English only (dpkg shows one).
"""

#: The menu entry's and the autostart entry's comment.
MENU_COMMENT = {"": "Ask your support team for help", "de": "Hilfe beim Support-Team anfordern"}
#: The SOS shortcut's comment.
SOS_COMMENT = {"": "Ask for help now", "de": "Jetzt Hilfe anfordern"}
#: The menu entry's search words.
MENU_KEYWORDS = {"": "help;support;SOS;", "de": "Hilfe;Support;SOS;"}

#: The control file's ``Description``: a synopsis line, then the extended description.
DESCRIPTION = (
    "{product}: ask {company}'s support team for help\n"
    " Puts {product} into {where}.\n"
    " One click opens a help request in {company}'s support queue; a supporter\n"
    " picks it up and gets in touch."
)
#: Where the description says the package puts the product, with and without desktop shortcuts.
WHERE_WITH_SHORTCUT = "the application menu and an SOS button on every user's desktop"
WHERE_MENU_ONLY = "the application menu"


def localized_keys(key: str, texts: dict[str, str]) -> dict[str, str]:
    """``{"": a, "de": b}`` as desktop entry keys ``{"Key": a, "Key[de]": b}``."""
    return {(f"{key}[{language}]" if language else key): text for language, text in texts.items()}
