"""Keep the process's memory in check while long media work runs on several threads.

Frames are allocated and freed constantly (a few MB each) on worker threads. glibc's malloc then
raises its mmap threshold and keeps freed frames in per-thread arenas, so the resident size of a
render can drift to twice what is live. Pinning the threshold (frames above 4 MiB go straight
back to the system when freed) and capping the arenas keeps the peak close to what is in use.
Pinning it also stops glibc raising its trim threshold, so without a trim threshold of its own
every freed frame at the top of the heap went back to the system and the next one faulted its
pages in again (a 1280x720 frame copy took ~1.4 ms instead of ~0.2): up to 64 MiB of free heap
top is kept for reuse. Linux/glibc only; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
M_TRIM_THRESHOLD = -1
_done = False


def tune_malloc(mmap_threshold: int = 4 << 20, arenas: int = 2, trim_threshold: int = 64 << 20) -> bool:
    """Apply once per process; True when glibc accepted it."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = (bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(libc.mallopt(M_ARENA_MAX, arenas))
              and bool(libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)))
    except (OSError, AttributeError):
        ok = False
    _done = True
    return ok
