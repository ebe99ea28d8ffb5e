"""The result cache: tiers behind one small protocol (``base.Tier``), composed by ``Cache``.

* actions: key (``nodegraph.keys.KeyMaterial``) -> output digests, files written, compute time
* values:  content digest -> value, in RAM (``MemoryTier``) and on disk (``DiskTier``)

Writes go through to disk when a node finishes, so a result survives the process; reads look
in RAM first. ``Cache.memory_only()`` is the RAM tier alone (``--no-cache`` uses no cache at all).
The evaluator sees only ``Cache``; it never reaches into a tier.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from .base import ActionEntry, Meta, RamMeta, Tier
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


class _WeakSpill:
    """``Cache._spill`` without keeping the cache alive (the RAM tier belongs to the cache)."""

    def __init__(self, cache: "Cache"):
        self._cache = weakref.ref(cache)

    def __call__(self, digest: bytes, value: Any) -> None:
        cache = self._cache()
        if cache is not None:
            cache._spill(digest, value)


class Cache:
    """Tiers composed behind the calls the evaluator makes (the evaluator sees nothing else).

    Reads try each tier in order and copy a hit into the tiers in front of it; writes go to every
    tier (a value a tier does not keep, such as a model handle on disk, stays in RAM). Today the
    tiers are RAM (``MemoryTier``) in front of the local disk (``DiskTier``); ``Cache.of(tiers)``
    composes any others that speak ``nodegraph.cache.base.Tier``."""

    def __init__(self, root: str | os.PathLike | None = None, *, memory_bytes: int | None = None,
                 disk_bytes: int | None = None, persistent: bool = True):
        disk = None
        if persistent:
            root = Path(root) if root is not None else default_cache_dir()
            disk = DiskTier(root, disk_bytes if disk_bytes is not None else _size_env("NODEGRAPH_CACHE_SIZE", DEFAULT_DISK))
        mem = memory_bytes if memory_bytes is not None else _size_env("NODEGRAPH_MEMORY_CACHE", DEFAULT_MEMORY)
        memory = MemoryTier(mem, spill=_WeakSpill(self))  # no cycle: a dropped cache is freed at once
        self._setup([memory] + ([disk] if disk is not None else []))

    @classmethod
    def memory_only(cls, memory_bytes: int | None = None) -> "Cache":
        return cls(persistent=False, memory_bytes=memory_bytes)

    @classmethod
    def of(cls, tiers: list[Tier]) -> "Cache":
        """A cache over the given tiers, fastest first."""
        self = cls.__new__(cls)
        self._setup(list(tiers))
        return self

    def _setup(self, tiers: list[Tier]) -> None:
        if not tiers:
            raise ValueError("a cache needs at least one tier")
        self.tiers = tiers
        self._front, self._back = tiers[0], tiers[1:]
        #: the RAM and disk tiers, for housekeeping (``nodegraph cache``) and tests
        self.memory = next((t for t in tiers if isinstance(t, MemoryTier)), None)
        self.disk = next((t for t in tiers if isinstance(t, DiskTier)), None)
        self.meta: Meta = next((t for t in tiers if isinstance(t, Meta)), None) or RamMeta()

    @property
    def root(self) -> Path | None:
        return self.disk.root if self.disk else None

    def _spill(self, digest: bytes, value: Any) -> None:
        """The RAM tier evicted a value: keep it in the tiers behind."""
        for t in getattr(self, "_back", ()):
            t.put(digest, value)

    # -- actions -----------------------------------------------------------------------------
    def get_action(self, key: bytes) -> ActionEntry | None:
        entry = self._front.get_action(key)
        if entry is not None or not self._back:
            return entry
        return self._read_behind(lambda t: t.get_action(key), lambda t, e: t.put_action(key, "", e))

    def _read_behind(self, get, promote) -> Any | None:
        """Ask the tiers behind the front one in turn; a hit is copied into the tiers before it."""
        for i, t in enumerate(self._back):
            got = get(t)
            if got is not None:
                for front in self.tiers[: i + 1]:
                    promote(front, got)
                return got
        return None

    def put_action(self, key: bytes, node_type: str, outputs: dict[str, bytes], files: list, seconds: float) -> None:
        entry: ActionEntry = {"outputs": outputs, "files": files, "seconds": seconds}
        for t in self.tiers:
            t.put_action(key, node_type, entry)

    def put_result(self, key: bytes, node_type: str, values: dict[bytes, tuple[Any, str]],
                   outputs: dict[str, bytes], files: list, seconds: float) -> None:
        """A node's outputs (digest -> (value, type id)) and its action, stored together: a tier
        that can commits both at once, so no reader sees the action without its values."""
        entry: ActionEntry = {"outputs": outputs, "files": files, "seconds": seconds}
        for t in self.tiers:
            put_result = getattr(t, "put_result", None)
            if put_result is not None:
                put_result(key, node_type, values, entry)
            else:
                for digest, (value, type_id) in values.items():
                    t.put(digest, value, type_id)
                t.put_action(key, node_type, entry)

    def forget_action(self, key: bytes) -> None:
        for t in self.tiers:
            t.forget_action(key)

    # -- values ------------------------------------------------------------------------------
    def get_value(self, digest: bytes) -> Any | None:
        v = self._front.get(digest)
        if v is not None or not self._back:
            return v
        return self._read_behind(lambda t: t.get(digest), lambda t, v: t.put(digest, v))

    def has_value(self, digest: bytes) -> bool:
        return any(t.contains(digest) for t in self.tiers)

    def put_value(self, digest: bytes, value: Any, type_id: str | None = None, persist: bool = True) -> None:
        self._front.put(digest, value, type_id)
        if persist:
            for t in self._back:
                t.put(digest, value, type_id)

    def evict(self, digest: bytes) -> None:
        for t in self.tiers:
            t.evict(digest)

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
        for t in self.tiers:
            t.pin(digest, pinned)

    # -- metadata (input file digests, explain's history, code identities) ---------------------
    def get_file_digest(self, path: str, size: int, mtime: int, inode: int) -> bytes | None:
        return self.meta.get_file_digest(path, size, mtime, inode)

    def put_file_digest(self, path: str, size: int, mtime: int, inode: int, digest: bytes) -> None:
        self.meta.put_file_digest(path, size, mtime, inode, digest)

    def get_history(self, graph: str) -> dict[str, tuple[Any, bytes]]:
        return self.meta.get_history(graph)

    def put_history(self, graph: str, entries: list[tuple[str, Any, bytes]]) -> None:
        if entries:
            self.meta.put_history(graph, entries)

    def get_code(self, name: str) -> tuple[list, str] | None:
        return self.meta.get_code(name)

    def put_code(self, name: str, sources: list, identity: str) -> None:
        self.meta.put_code(name, sources, identity)

    # -- housekeeping ------------------------------------------------------------------------
    def flush(self) -> None:
        """Make what was stored durable (a tier that writes behind commits its queue)."""
        for t in self.tiers:
            flush = getattr(t, "flush", None)
            if flush is not None:
                flush()

    def close(self) -> None:
        for t in self.tiers:
            close = getattr(t, "close", None)
            if close is not None:
                close()


__all__ = ["ActionEntry", "Cache", "DiskTier", "MemoryTier", "Meta", "Tier", "default_cache_dir", "format_size",
           "parse_size", "value_nbytes"]
