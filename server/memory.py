"""Giving memory back to the system after a crowd (of event-stream watchers, say) has left.

What the C heap holds comes back: glibc's (``malloc_trim``), and mimalloc's when the server runs
on it (``mi_collect``; ``server.allocator``, the default where it is installed), which holds every
Python object then. On CPython's own allocator (pymalloc, for objects up to 512 bytes) a 1 MiB
arena comes back only once every object in it is gone, and a few objects made while the crowd was
there and kept (database cursors' weak references, cached statements, pool connections, worker
threads) sit in the crowd's arenas: after 10,000 watchers left, about 100 arenas stay, each kept
by a few pools. They are reused by the next crowd.
"""

import gc

from server.allocator import process_function

_malloc_trim = process_function("malloc_trim")  # glibc's
_mi_collect = process_function("mi_collect")


def release_freed_memory() -> None:
    """Free what only the cyclic GC frees, then hand the C heap's free pages back (glibc's, and
    mimalloc's when the server runs on it).

    The GC runs rarely while thousands of long-lived streams are open (``server.app._tune_gc``),
    so the cycles that ended streams leave wait long; and glibc keeps the pages freed in the
    middle of its heaps until ``malloc_trim``.
    """
    gc.collect()
    if _mi_collect is not None:
        _mi_collect(True)
    if _malloc_trim is not None:
        _malloc_trim(0)
