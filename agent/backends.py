"""Picking an operating-system backend: one private module per platform, an environment override."""

import importlib
import os
import sys


def pick(package: str, attribute: str, *, variable: str, backends: tuple[str, ...], candidates: list[str],
         failure: str) -> type:
    """``package._<name>.<attribute>`` for the first backend that imports.

    The backends tried are ``$variable`` when it is set, else ``candidates``. Raises
    ``ImportError("<failure>: <why each one failed>")`` when none does.
    """
    requested = os.environ.get(variable, "").strip()
    names = [requested] if requested else candidates
    errors = []
    for name in names:
        if name not in backends:
            errors.append(f"{variable}={name!r} is not one of {', '.join(backends)}")
            continue
        try:
            return getattr(importlib.import_module(f"{package}._{name}"), attribute)
        except ImportError as error:
            errors.append(f"{name}: {error}")
    raise ImportError(f"{failure}: {'; '.join(errors) or f'no backend for {sys.platform!r}'}")
