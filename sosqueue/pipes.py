"""A closed pipe on stdout (``sosqueue-agent --print-config | head -1``) is the reader saying it
has read enough, not an error: the commands stop writing and exit 0, without a message.

Python buffers stdout into a pipe, so the broken pipe often shows only when the buffer is
flushed; the commands flush before they return, where they can still catch it.
"""

import os
import sys


def flush_stdout() -> None:
    """Flush now, so that a reader that went away shows here (``BrokenPipeError``), not at exit."""
    if sys.stdout is not None:
        sys.stdout.flush()


def silence_stdout() -> None:
    """The reader went away: whatever is still buffered, and Python's last flush, go nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # no stdout to speak of
        sys.stdout = None
