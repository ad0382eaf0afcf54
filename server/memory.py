"""Memory that returns after a burst: large buffers come straight from the OS and go back to it.

glibc's malloc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB
on 64-bit), after which decoded photos, their RGB copies and the calibration's arrays are
carved from the heap arenas instead, and freeing them rarely shrinks the heap: twelve 16 Mpx
PNG decodes in a row left the process 197 MB larger after every array was freed. A fixed
threshold (``mallopt(M_MMAP_THRESHOLD)``, which also turns the dynamic adjustment off) keeps
every allocation of 1 MiB or more (an uploaded still, a decoded photo) an mmap of its own,
unmapped when freed: the same burst left 6 MB. Video frames at 512² (768 KiB of RGB) stay below
it, on the fast heap path. What smaller allocations leave free inside the heaps goes back with
:func:`release_free_memory` (the server calls it every few seconds).

Process-wide, like the allocator itself; a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["LARGE_ALLOCATION_BYTES", "release_free_memory", "return_large_allocations"]

logger = logging.getLogger(__name__)

LARGE_ALLOCATION_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc malloc.h


def return_large_allocations(threshold: int = LARGE_ALLOCATION_BYTES) -> bool:
    """Make allocations of ``threshold`` bytes or more mmaps returned to the OS when freed.

    Returns:
        whether the C library took the setting (False: not glibc, nothing changed).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        logger.debug("no glibc mallopt: large allocations keep the allocator's default")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))


def release_free_memory() -> bool:
    """Give the free pages of every malloc arena back to the OS (``malloc_trim(0)``), also
    those in the middle of a heap that small long-lived objects keep from shrinking. Takes a
    few milliseconds on a heap of hundreds of MB: call it after a heavy job, in a worker thread.

    Returns:
        whether any memory was released (False also where the C library is not glibc).
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        malloc_trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    malloc_trim.argtypes = (ctypes.c_size_t,)
    malloc_trim.restype = ctypes.c_int
    return bool(malloc_trim(0))
