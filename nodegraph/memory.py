"""Keep the process's memory in check while long media work runs on several threads.

Frames are allocated and freed constantly (a few MB each) on worker threads. glibc's malloc then
raises its mmap threshold and keeps freed frames in per-thread arenas, so the resident size of a
render can drift to twice what is live. Pinning the threshold (frames above 4 MiB go straight
back to the system when freed) and capping the arenas keeps the peak close to what is in use.
Linux/glibc only; elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
_done = False


def tune_malloc(mmap_threshold: int = 4 << 20, arenas: int = 2) -> bool:
    """Apply once per process; True when glibc accepted it."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return _done
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = bool(libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        ok = False
    _done = True
    return ok
