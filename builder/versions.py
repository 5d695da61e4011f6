"""Module versions (``X.Y.Z``) as both installers accept them: MSI allows at most 255.255.65535.

Kept apart from :mod:`builder.packaging` so that ``sosqueue build`` checks a config's version
without importing the installer formats.
"""

import re

VERSION_PATTERN = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,5})$")
VERSION_LIMITS = (255, 255, 65535)
