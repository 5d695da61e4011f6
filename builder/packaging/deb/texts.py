"""Every text the ``.deb`` shows people, together, in English ("") and German ("de").

The desktop entries carry their translations (from the installers' catalogue) as ``Key[de]``
lines; the control file's description is English only (dpkg shows one).
"""

from sosqueue.i18n import installer_texts

#: The menu entry's and the autostart entry's comment.
MENU_COMMENT = installer_texts("Ask your support team for help")
#: The SOS shortcut's comment.
SOS_COMMENT = installer_texts("Ask for help now")
#: The menu entry's search words.
# TRANSLATORS: The menu entry's search words, separated by semicolons, ending with one.
MENU_KEYWORDS = installer_texts("help;support;SOS;")

#: The control file's ``Description``: the synopsis line, then the extended description (one
#: paragraph, wrapped when the package is built).
SYNOPSIS = "{product}: ask {company}'s support team for help"
DESCRIPTION = (
    "Puts {product} into {where}. One click opens a help request in {company}'s support queue; "
    "a supporter picks it up and gets in touch."
)

#: ``/usr/share/doc/P/copyright``: the Comment and the License text.
COPYRIGHT_COMMENT = "{product} is a support module of {company}, built with sosqueue."
LICENSE_TEXT = "Licensed to {company} for use on its own computers and those of its customers."
#: ``changelog.gz``: the one entry of a version.
CHANGELOG_ENTRY = "{product} {version}, packaged for rollout."
#: Where the description says the package puts the product, with and without desktop shortcuts.
WHERE_WITH_SHORTCUT = "the application menu and an SOS button on every user's desktop"
WHERE_MENU_ONLY = "the application menu"

