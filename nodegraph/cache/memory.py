"""The RAM tier: values by content digest, bounded in bytes, least recently used evicted first.

An evicted value is handed to ``spill`` (the disk tier) rather than dropped, unless it is
already there or its type is not persistent (model handles live only in RAM).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

from ..types import find_type


def value_nbytes(value: Any) -> int:
    """What a value costs in RAM (arrays it holds; a streamed video counts only what it keeps)."""
    t = find_type(value)
    if t is not None and hasattr(t, "nbytes"):
        return int(t.nbytes(value))
    return 256


class MemoryTier:
    def __init__(self, max_bytes: int = 2 * 1024**3, spill: Callable[[bytes, Any], None] | None = None):
        self.max_bytes = int(max_bytes)
        self.spill = spill
        self._items: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, digest: bytes) -> Any | None:
        with self._lock:
            item = self._items.get(digest)
            if item is None:
                return None
            self._items.move_to_end(digest)
            return item[0]

    def put(self, digest: bytes, value: Any, nbytes: int | None = None) -> None:
        size = value_nbytes(value) if nbytes is None else nbytes
        evicted: list[tuple[bytes, Any]] = []
        with self._lock:
            old = self._items.pop(digest, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[digest] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._items) > 1:
                d, (v, s) = self._items.popitem(last=False)
                self._bytes -= s
                self.evictions += 1
                evicted.append((d, v))
        for d, v in evicted:  # outside the lock: spilling writes files
            if self.spill is not None:
                self.spill(d, v)

    def discard(self, digest: bytes) -> None:
        with self._lock:
            item = self._items.pop(digest, None)
            if item is not None:
                self._bytes -= item[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
