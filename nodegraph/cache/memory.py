"""The RAM tier: values by content digest, bounded in bytes, least recently used evicted first.

An evicted value is handed to ``spill`` (the disk tier) rather than dropped, unless it is
already there or its type is not persistent (model handles live only in RAM).
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Callable

from ..types import TYPES, find_type


def value_nbytes(value: Any, type_id: str | None = None) -> int:
    """What a value costs in RAM (arrays it holds; a streamed video counts only what it keeps)."""
    t = TYPES.get(type_id) if type_id else None
    if t is None:
        t = find_type(value)
    if t is not None and hasattr(t, "nbytes"):
        return int(t.nbytes(value))
    return 256


class MemoryTier:
    """Values by digest within a byte budget. Reads take no lock: each stamps its entry with a
    counter, and eviction (rare) drops the least recently stamped entries in one batch, down to 90%
    of the budget, handing each to ``spill`` (the disk tier) instead of dropping it."""

    def __init__(self, max_bytes: int = 2 * 1024**3, spill: Callable[[bytes, Any], None] | None = None):
        self.max_bytes = int(max_bytes)
        self.spill = spill
        self._items: dict[bytes, tuple[Any, int]] = {}
        self._stamp: dict[bytes, int] = {}
        self._clock = itertools.count()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0
        self._actions: dict[bytes, dict] = {}
        self.max_actions = 1_000_000

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._items

    def contains(self, digest: bytes) -> bool:
        return digest in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, digest: bytes) -> Any | None:
        item = self._items.get(digest)
        if item is None:
            return None
        self._stamp[digest] = next(self._clock)
        return item[0]

    def put(self, digest: bytes, value: Any, type_id: str | None = None, nbytes: int | None = None) -> bool:
        size = value_nbytes(value, type_id) if nbytes is None else nbytes
        evicted: list[tuple[bytes, Any]] = []
        with self._lock:
            old = self._items.pop(digest, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[digest] = (value, size)
            self._stamp[digest] = next(self._clock)
            self._bytes += size
            if self._bytes > self.max_bytes and len(self._items) > 1:
                target = self.max_bytes * 0.9
                for d in sorted(self._items, key=lambda k: self._stamp.get(k, -1)):
                    if self._bytes <= target or len(self._items) == 1:
                        break
                    if d == digest:
                        continue
                    v, s = self._items.pop(d)
                    self._stamp.pop(d, None)
                    self._bytes -= s
                    self.evictions += 1
                    evicted.append((d, v))
        for d, v in evicted:  # outside the lock: spilling writes files
            if self.spill is not None:
                self.spill(d, v)
        return True

    def pin(self, digest: bytes, pinned: bool = True) -> None:
        """Nothing to do in RAM: an evicted value is spilled to the tier behind, which pins."""

    def evict(self, digest: bytes) -> None:
        self.discard(digest)

    def put_result(self, key: bytes, node_type: str, values: dict, entry: dict) -> None:
        """A node's values and its action (see ``Cache.put_result``)."""
        for digest, (value, type_id) in values.items():
            self.put(digest, value, type_id)
        self.put_action(key, node_type, entry)

    # -- action results (small: a few digests each) ------------------------------------------
    def get_action(self, key: bytes) -> dict | None:
        return self._actions.get(key)

    def put_action(self, key: bytes, node_type: str, entry: dict) -> None:
        if len(self._actions) >= self.max_actions:
            for k in list(self._actions)[: self.max_actions // 2]:  # oldest first (insertion order)
                del self._actions[k]
        self._actions[key] = entry

    def forget_action(self, key: bytes) -> None:
        self._actions.pop(key, None)

    def discard(self, digest: bytes) -> None:
        with self._lock:
            item = self._items.pop(digest, None)
            self._stamp.pop(digest, None)
            if item is not None:
                self._bytes -= item[1]

    def clear(self) -> None:
        with self._lock:
            self._actions.clear()
            self._items.clear()
            self._stamp.clear()
            self._bytes = 0
