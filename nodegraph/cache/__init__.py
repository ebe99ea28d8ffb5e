"""Two cache tiers behind one small interface (the evaluator sees only ``Cache``).

* actions: key (node type, version, params, input digests) -> output digests
* values:  content digest -> value, in RAM (``MemoryTier``) and on disk (``DiskTier``)

Writes go through to disk when a node finishes, so a result survives the process; reads look
in RAM first. ``Cache.memory_only()`` is the RAM tier alone (``--no-cache`` uses no cache at all).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .disk import DiskTier
from .memory import MemoryTier, value_nbytes

DEFAULT_MEMORY = 2 * 1024**3
DEFAULT_DISK = 20 * 1024**3


def default_cache_dir() -> Path:
    env = os.environ.get("NODEGRAPH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("nodegraph", appauthor=False))


def _size_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    return parse_size(raw)


def parse_size(text: str) -> int:
    """'500M', '20G', '1.5GiB', '1024' -> bytes."""
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    mult = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMGT" else t
    try:
        value = float(num) * mult
    except ValueError:
        raise ValueError(f"size {text!r} is not a number of bytes (e.g. 500M, 20G)") from None
    if value < 0:
        raise ValueError(f"size {text!r} is negative")
    return int(value)


def format_size(n: float) -> str:
    """Bytes for people: '512 B', '3.4 MiB', '20.0 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Cache:
    def __init__(self, root: str | os.PathLike | None = None, *, memory_bytes: int | None = None,
                 disk_bytes: int | None = None, persistent: bool = True):
        self.disk = None
        if persistent:
            root = Path(root) if root is not None else default_cache_dir()
            self.disk = DiskTier(root, disk_bytes if disk_bytes is not None else _size_env("NODEGRAPH_CACHE_SIZE", DEFAULT_DISK))
        mem = memory_bytes if memory_bytes is not None else _size_env("NODEGRAPH_MEMORY_CACHE", DEFAULT_MEMORY)
        self.memory = MemoryTier(mem, spill=self._spill)
        self._actions: dict[bytes, dict] = {}  # RAM copy of action entries seen or made here

    @classmethod
    def memory_only(cls, memory_bytes: int | None = None) -> "Cache":
        return cls(persistent=False, memory_bytes=memory_bytes)

    @property
    def root(self) -> Path | None:
        return self.disk.root if self.disk else None

    def _spill(self, digest: bytes, value: Any) -> None:
        if self.disk is not None:
            self.disk.put(digest, value)

    # -- actions -----------------------------------------------------------------------------
    def get_action(self, key: bytes) -> dict | None:
        entry = self._actions.get(key)
        if entry is None and self.disk is not None:
            entry = self.disk.get_action(key)
            if entry is not None:
                self._actions[key] = entry
        return entry

    def put_action(self, key: bytes, node_type: str, outputs: dict[str, bytes], files: list, seconds: float) -> None:
        entry = {"outputs": outputs, "files": files, "seconds": seconds}
        self._actions[key] = entry
        if self.disk is not None:
            self.disk.put_action(key, node_type, outputs, files, seconds)

    def put_result(self, key: bytes, node_type: str, values: dict[bytes, tuple[Any, str]],
                   outputs: dict[str, bytes], files: list, seconds: float) -> None:
        """A node's outputs (digest -> (value, type id)) and its action, stored together."""
        for digest, (value, _) in values.items():
            self.memory.put(digest, value)
        self._actions[key] = {"outputs": outputs, "files": files, "seconds": seconds}
        if self.disk is not None:
            self.disk.put_result(key, node_type, values, outputs, files, seconds)

    def forget_action(self, key: bytes) -> None:
        self._actions.pop(key, None)
        if self.disk is not None:
            self.disk.forget_action(key)

    # -- values ------------------------------------------------------------------------------
    def get_value(self, digest: bytes) -> Any | None:
        v = self.memory.get(digest)
        if v is None and self.disk is not None:
            v = self.disk.get(digest)
            if v is not None:
                self.memory.put(digest, v)
        return v

    def has_value(self, digest: bytes) -> bool:
        return digest in self.memory or (self.disk is not None and self.disk.has(digest))

    def put_value(self, digest: bytes, value: Any, type_id: str | None = None, persist: bool = True) -> None:
        self.memory.put(digest, value)
        if persist and self.disk is not None:
            self.disk.put(digest, value, type_id)

    def artifact(self, key: bytes, make) -> bytes:
        """Bytes stored under a recipe ``key`` (e.g. an encoded video segment): made once by
        ``make()``, then read back from RAM or disk (verified) in this and later processes."""
        data = self.get_value(key)
        if isinstance(data, bytes):
            return data
        data = make()
        if not isinstance(data, bytes):
            raise TypeError(f"an artifact must be bytes, got {type(data).__name__}")
        self.put_value(key, data, "bytes")
        return data

    def pin(self, digest: bytes, pinned: bool = True) -> None:
        if self.disk is not None:
            self.disk.pin(digest, pinned)

    def flush(self) -> None:
        if self.disk is not None:
            self.disk.flush_usage()

    def close(self) -> None:
        if self.disk is not None:
            self.disk.close()


__all__ = ["Cache", "DiskTier", "MemoryTier", "default_cache_dir", "format_size", "parse_size", "value_nbytes"]
