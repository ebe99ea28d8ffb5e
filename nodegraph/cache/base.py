"""The one small protocol every cache tier speaks.

Two kinds of entry, as in Bazel's remote cache:

* values by content digest (the content-addressed store): ``get``, ``put``, ``contains``,
  ``pin``, ``evict``;
* action results by key (a node's key -> its output digests, the files it wrote, its compute
  time): ``get_action``, ``put_action``, ``forget_action``.

A tier may also keep small metadata (the digests of input files, the last key material of each
node for ``explain``, code identities): ``Meta``. ``nodegraph.cache.Cache`` composes tiers (RAM in
front of disk today; a shared store for a cluster tomorrow) behind the same calls, and the
evaluator only ever talks to that composition.
"""
from __future__ import annotations

from typing import Any, Protocol, TypedDict, runtime_checkable


class ActionEntry(TypedDict):
    outputs: dict[str, bytes]  # output port -> content digest
    files: list  # [relative path, size, mtime_ns] of each file an output node wrote
    seconds: float  # how long the node took


@runtime_checkable
class Tier(Protocol):
    def get(self, digest: bytes) -> Any | None:
        """The value stored under ``digest``, or None (absent, or found corrupt and dropped)."""

    def put(self, digest: bytes, value: Any, type_id: str | None = None) -> bool:
        """Store a value; False if this tier does not keep values of its kind."""

    def contains(self, digest: bytes) -> bool: ...

    def pin(self, digest: bytes, pinned: bool = True) -> None:
        """A pinned value survives eviction (a result the user chose to keep)."""

    def evict(self, digest: bytes) -> None: ...

    def get_action(self, key: bytes) -> ActionEntry | None: ...

    def put_action(self, key: bytes, node_type: str, entry: ActionEntry) -> None: ...

    def forget_action(self, key: bytes) -> None: ...


@runtime_checkable
class Meta(Protocol):
    """Small metadata a persistent tier keeps beside results."""

    def get_file_digest(self, path: str, size: int, mtime: int, inode: int) -> bytes | None: ...

    def put_file_digest(self, path: str, size: int, mtime: int, inode: int, digest: bytes) -> None: ...

    def get_history(self, graph: str) -> dict[str, tuple[Any, bytes]]:
        """node id -> (its last key material as plain data, its key) for one graph."""

    def put_history(self, graph: str, entries: list[tuple[str, Any, bytes]]) -> None: ...

    def get_code(self, name: str) -> tuple[list, str] | None: ...

    def put_code(self, name: str, sources: list, identity: str) -> None: ...


class RamMeta:
    """``Meta`` in RAM, for a cache without a persistent tier."""

    def __init__(self) -> None:
        self._files: dict[tuple, bytes] = {}
        self._history: dict[str, dict[str, tuple[Any, bytes]]] = {}
        self._code: dict[str, tuple[list, str]] = {}

    def get_file_digest(self, path: str, size: int, mtime: int, inode: int) -> bytes | None:
        return self._files.get((path, size, mtime, inode))

    def put_file_digest(self, path: str, size: int, mtime: int, inode: int, digest: bytes) -> None:
        self._files[(path, size, mtime, inode)] = digest

    def get_history(self, graph: str) -> dict[str, tuple[Any, bytes]]:
        return dict(self._history.get(graph, {}))

    def put_history(self, graph: str, entries: list[tuple[str, Any, bytes]]) -> None:
        h = self._history.setdefault(graph, {})
        for node, mat, key in entries:
            h[node] = (mat, key)

    def get_code(self, name: str) -> tuple[list, str] | None:
        return self._code.get(name)

    def put_code(self, name: str, sources: list, identity: str) -> None:
        self._code[name] = (sources, identity)
