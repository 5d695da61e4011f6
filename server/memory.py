"""Giving memory back to the system after a crowd (of event-stream watchers, say) has left.

What glibc holds comes back (``malloc_trim``). CPython's own allocator (pymalloc, for objects up
to 512 bytes) gives back a 1 MiB arena only once every object in it is gone, and a few objects
made while the crowd was there and kept (database cursors' weak references, cached statements,
pool connections, worker threads) sit in the crowd's arenas: after 10,000 watchers left, about
100 arenas stay, each kept by a few pools. They are reused by the next crowd. Run with
``PYTHONMALLOC=malloc`` to have every object in glibc's heap, which the trim gives back: the
server then returns to within 1.2x of its memory before the crowd, for about a tenth more CPU
per request (``benchmarks/server_watchers.py --server-env PYTHONMALLOC=malloc``).
"""

import ctypes
import ctypes.util
import gc
import sys


def _libc_malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_malloc_trim = _libc_malloc_trim()


def release_freed_memory() -> None:
    """Free what only the cyclic GC frees, then hand the C heap's free pages back (glibc).

    The GC runs rarely while thousands of long-lived streams are open (``server.app._tune_gc``),
    so the cycles that ended streams leave wait long; and glibc keeps the pages freed in the
    middle of its heaps until ``malloc_trim``.
    """
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
