"""The lintian tags a module's ``.deb`` is allowed to get, each with why it is acceptable.

The test suite runs ``lintian`` on built packages and fails on any other tag; the README
explains this list to IT.
"""

#: Tag → why a support module's package may carry it.
ALLOWED_TAGS: dict[str, str] = {
    "dir-or-file-in-opt":
        "the module is a vendor program installed as a whole under /opt/P, as packages of browsers and "
        "remote-support tools are",
    "missing-intermediate-directory":
        "only for opt/: the package leaves /opt out of its archive so that it does not own /opt and purge "
        "does not warn about it (preinst makes /opt where it is missing)",
    "hardening-no-pie":
        "the module is PyInstaller's prebuilt one-file bootloader, linked without PIE; the package cannot "
        "rebuild it",
    # The folder form (--onedir-base) shows lintian the libraries that the one-file module carries
    # inside its archive, where lintian does not look: they are the same prebuilt files.
    "custom-library-search-path":
        "the folder form's Python and its extension modules keep the RUNPATH of the Python they were built "
        "with; the program loads them from _internal by path, so it is never searched",
    "shared-library-is-executable":
        "the folder form's libraries keep the modes PyInstaller gave them (0755)",
    "shared-library-lacks-prerequisites":
        "some of Python's prebuilt extension modules link no library at all",
    "library-not-linked-against-libc":
        "some of Python's prebuilt extension modules need nothing from libc",
    "embedded-library":
        "the folder form carries Pillow's prebuilt libraries (libpng, and FreeType with bzip2 inside), as the "
        "one-file module does, so that the agent runs the same on every distribution",
}

#: Tags allowed only with these contexts (what lintian shows in brackets).
ALLOWED_CONTEXTS: dict[str, set[str]] = {"missing-intermediate-directory": {"opt/"}}


def unexpected(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ``(tag, context)`` pairs lintian reported that :data:`ALLOWED_TAGS` does not allow."""
    return [(tag, context) for tag, context in tags
            if tag not in ALLOWED_TAGS or (tag in ALLOWED_CONTEXTS and context not in ALLOWED_CONTEXTS[tag])]
