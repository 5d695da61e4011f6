"""The package's shell scripts: the maintainer scripts and the ``desktop-shortcuts`` helper.

The helper is a real file in package data, ``desktop-shortcuts.sh`` (tests lint it with
shellcheck); building a package fills in its settings block, the lines ``NAME=''``.
"""

import shlex
from importlib import resources

from builder.packaging.deb.layout import Layout

HELPER_SOURCE = "desktop-shortcuts.sh"


def maintainer_scripts(layout: Layout) -> dict[str, str]:
    """``preinst``, ``postinst``, ``prerm`` and ``postrm``: POSIX sh, ``set -e``, safe to run again.

    ``preinst`` makes ``/opt`` where a system has none: the package does not own it.
    """
    helper = shlex.quote(layout.helper)
    state = shlex.quote(layout.state_dir)
    return {
        "preinst": _script(layout, "preinst", """\
case "$1" in
    install|upgrade)
        [ -d /opt ] || mkdir -m 0755 /opt
        ;;
esac
"""),
        "postinst": _script(layout, "postinst", f"""\
case "$1" in
    configure|abort-upgrade|abort-remove|abort-deconfigure)
        {helper} configure
        ;;
esac
"""),
        "prerm": _script(layout, "prerm", f"""\
case "$1" in
    remove)
        if [ -x {helper} ]; then
            {helper} remove || echo "{layout.package}: some desktop shortcuts could not be removed" >&2
        fi
        ;;
esac
"""),
        "postrm": _script(layout, "postrm", f"""\
case "$1" in
    purge)
        rm -rf {state}
        ;;
    remove)
        rmdir {state} 2>/dev/null || true
        ;;
esac
"""),
    }


def _script(layout: Layout, name: str, body: str) -> str:
    return f"#!/bin/sh\n# {name} of {layout.package}\nset -e\n\n{body}\nexit 0\n"


def helper_source() -> str:
    """``desktop-shortcuts.sh`` as shipped, with its settings block empty."""
    return resources.files(__package__).joinpath(HELPER_SOURCE).read_text(encoding="utf-8")


def shortcut_helper(layout: Layout, *, wanted: bool) -> str:
    """The ``desktop-shortcuts`` script of a package: :func:`helper_source` with its settings."""
    settings = {
        "PACKAGE": layout.package,
        "SHORTCUT_NAME": layout.shortcut_file,
        "TEMPLATE": layout.template,
        "STATE_DIR": layout.state_dir,
        "SELF": layout.helper,
        "WANTED": "1" if wanted else "0",
    }
    lines = helper_source().splitlines(keepends=True)
    for name, value in settings.items():
        empty = f"{name}=''\n"
        if lines.count(empty) != 1:
            raise RuntimeError(f"{HELPER_SOURCE} must have one settings line {empty.strip()}")
        lines[lines.index(empty)] = f"{name}={shlex.quote(value)}\n"
    return "".join(lines)
