"""What an installer format declares, for the registry :data:`builder.packaging.FORMATS`."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sosqueue.platforms import Platform

#: Builds an installer for a module into a folder; returns what ``--json`` prints (``path`` first).
Build = Callable[..., dict]


@dataclass(frozen=True)
class Format:
    """An installer format: ``sosqueue package <name>`` builds it.

    :param name: the command's name, e.g. ``deb``.
    :param platform: the platform of the modules it wraps.
    :param suffix: its file suffix, e.g. ``.deb``.
    :param summary: the command's help.
    :param build: ``build(module, out_dir, *, version, **options) -> dict``, the options being the
        parameters of the format's own click ``options``.
    :param options: click options of this format only (besides ``--module``, ``--out``,
        ``--version`` and ``--json``, which every format has).
    """

    name: str
    platform: Platform
    suffix: str
    summary: str
    build: Build
    options: Sequence[Callable] = ()

