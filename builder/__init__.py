"""The module builder: stamps an admin's branding and configuration into a prebuilt base agent.

What other parts may use (the server's module downloads and ``sosqueue quickstart``) is named
here; everything else in this package is the builder's own.
"""

from builder.bases import base_file_name, build_base, default_base
from builder.module_config import ModuleSpec, parse as parse_spec, template
from builder.stamping import stamp_module

__all__ = ["ModuleSpec", "base_file_name", "build_base", "default_base", "parse_spec", "stamp_module", "template"]
