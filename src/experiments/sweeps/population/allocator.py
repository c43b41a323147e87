"""Keep a population's freed memory in the process (glibc only; elsewhere nothing changes).

glibc's malloc serves every block over 32 MB with its own `mmap` and hands it back to the system
at `free`; the next allocation of that size then faults each of its pages in afresh. A population
of convnets allocates and frees gigabytes of such blocks at every update (256 digits_cnn members:
1.2 GB per activation), and the page faults took two thirds of its step here (64 members: 3.2 s
a step, 1.1 s with the memory kept; 256: 21.4 s, 5.7 s). With mmap off and no trimming, freed
blocks stay in the heap for the next update (8 members' updates fault ~1/7 of the pages or
fewer: tests/test_vectorized_convnets.py); the process keeps its peak until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)


@functools.cache
def keep_freed_memory() -> bool:
    """Tell glibc to keep freed memory for reuse (once per process); False where there is no
    glibc `mallopt` (macOS, musl) or it refuses."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
