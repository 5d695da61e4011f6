"""A backend that creates nothing: for headless tests and systems without a desktop."""

import logging

from agent.platforms import _base

log = logging.getLogger("sosqueue.agent.desktop")


class Desktop(_base.Desktop):
    """Creates nothing; every ``HAS_*`` flag is false."""

    def _remove(self, item):
        log.info("no desktop integration here: %s left as it is", item)
