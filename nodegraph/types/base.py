"""The machinery shared by every value type: descriptors, constrained port types, the type table.

A ``ValueType`` describes one kind of value that flows on a wire: how to check it, fingerprint it,
encode it for the disk cache, preview it, and (for literal types) read and write it as a param in
a graph file. Calling a type makes a constrained ``PortType`` for a node declaration::

    steps: Int(min=1, max=150) = 20
    mode: Choice("fast", "best") = "fast"
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np

from .. import hashing


class ValueError_(ValueError):
    """A value that does not fit its type or its constraints (message names the value)."""


@dataclass(frozen=True)
class Preview:
    """A small, cheap summary of a value for the CLI and the editor.

    kind: "text" | "number" | "image" | "audio" | "video" | "record"; ``text`` is always set (a
    one-line summary); ``image`` is an RGB(A) uint8 thumbnail at most 256 px on its long side;
    ``waveform`` is a (buckets, 2) float32 array of min/max per bucket.
    """

    kind: str
    text: str
    image: np.ndarray | None = None
    waveform: np.ndarray | None = None


@dataclass(frozen=True)
class Encoded:
    """A value encoded for the disk cache: a msgpack-able ``meta`` and a byte stream of chunks.

    ``chunks`` may be a lazy iterator (a video streams frame by frame, never all in RAM); ``size``
    is the total number of payload bytes the chunks add up to.
    """

    meta: dict
    chunks: Iterable[bytes | memoryview]
    size: int


class ValueType:
    """Descriptor of one value type. Subclasses override what differs."""

    id: str = ""
    title: str = ""
    color: tuple[int, int, int] = (160, 160, 160)
    #: Python classes whose instances are values of this type.
    python: tuple[type, ...] = ()
    #: True when values can be written literally in a graph file (params).
    literal: bool = False
    #: ids of other types whose values this type accepts on a link (converted by ``convert``).
    accepts: tuple[str, ...] = ()
    #: constraint names ``__call__`` accepts.
    options: tuple[str, ...] = ()
    #: order in which ``find_type`` tries types (bool before int before float).
    find_rank: int = 100
    #: False for values that must never be written to the disk cache (loaded model weights).
    persistent: bool = True

    def owns(self, value: Any) -> bool:
        """Whether an instance of ``python`` really is of this type (int vs bool)."""
        return True

    # -- declaration -------------------------------------------------------------------------
    def __call__(self, *args: Any, **opts: Any) -> "PortType":
        unknown = set(opts) - set(self.options)
        if unknown:
            raise TypeError(f"{self.id}() got unknown option(s) {sorted(unknown)}; it takes {list(self.options)}")
        if args:
            raise TypeError(f"{self.id}() takes keyword options only")
        return PortType(self, tuple(sorted(opts.items())))

    def __or__(self, other: Any) -> "OptionalPort":
        return PortType(self) | other

    def __repr__(self) -> str:
        return f"<type {self.id}>"

    # -- values ------------------------------------------------------------------------------
    def check(self, value: Any, opts: dict) -> Any:
        """Return ``value`` (possibly normalised) or raise ``ValueError_``."""
        if not isinstance(value, self.python):
            raise ValueError_(f"expected {self.id}, got {type_name(value)}")
        return value

    def convert(self, value: Any, source: "ValueType") -> Any:
        """Convert a value of an accepted ``source`` type (see ``accepts``)."""
        return value

    def fingerprint(self, value: Any) -> bytes:
        return hashing.digest_obj(self.id, self.to_json(value))

    def encode(self, value: Any) -> Encoded:
        return Encoded({"v": self.to_json(value)}, (), 0)

    def decode(self, meta: dict, payload: memoryview) -> Any:
        return self.from_json(meta["v"], {})

    def can_persist(self, value: Any) -> bool:
        """Whether this value may be written to the disk cache."""
        return self.persistent

    def nbytes(self, value: Any) -> int:
        """Approximate RAM held by a value (for the memory tier's budget)."""
        return 64 + (len(value) if isinstance(value, (str, bytes)) else 0)

    def preview(self, value: Any) -> Preview:
        text = repr(value)
        return Preview("text", text if len(text) <= 80 else text[:77] + "...")

    # -- literals (params in graph files) ----------------------------------------------------
    def from_json(self, data: Any, opts: dict) -> Any:
        """Read a literal from parsed JSON, checking constraints; raise ``ValueError_``."""
        if not self.literal:
            raise ValueError_(f"{self.id} values cannot be written in a graph file; connect a link")
        return self.check(data, opts)

    def to_json(self, value: Any) -> Any:
        return value

    def parse_cli(self, text: str, opts: dict) -> Any:
        """Read a literal typed on the command line (``--set node.param=VALUE``)."""
        import json

        try:
            data = json.loads(text)
        except ValueError:
            data = text
        return self.from_json(data, opts)

    def widget(self, opts: dict) -> dict:
        """What the editor needs to draw a param widget for this type."""
        return {"kind": self.id, **opts}


@dataclass(frozen=True)
class PortType:
    """A value type plus declaration-time constraints (min/max, choices, file kinds ...)."""

    vtype: ValueType
    opts_items: tuple = ()

    @functools.cached_property
    def opts(self) -> dict:
        return dict(self.opts_items)

    @property
    def id(self) -> str:
        return self.vtype.id

    def check(self, value: Any) -> Any:
        return self.vtype.check(value, self.opts)

    def from_json(self, data: Any) -> Any:
        return self.vtype.from_json(data, self.opts)

    def describe(self) -> dict:
        return {"type": self.vtype.id, **{k: _jsonable(v) for k, v in self.opts_items}}

    def __or__(self, other: Any) -> "OptionalPort":
        """``Int(min=0, max=99) | None``: the port may hold None (its default then says "unset")."""
        if other is not None and other is not type(None):
            return NotImplemented
        return OptionalPort(self)


@dataclass(frozen=True)
class OptionalPort:
    """``T(...) | None`` in a node declaration (``nodegraph.node`` reads it as an optional ``T``)."""

    item: PortType


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def port_type(annotation: Any) -> PortType | None:
    """``Int`` or ``Int(min=0)`` -> PortType; anything else -> None."""
    if isinstance(annotation, PortType):
        return annotation
    if isinstance(annotation, ValueType):
        return PortType(annotation)
    return None


def type_name(value: Any) -> str:
    t = find_type(value)
    return t.id if t is not None else type(value).__name__


# -- the type table ------------------------------------------------------------------------
TYPES: dict[str, ValueType] = {}


def register_type(t: ValueType) -> ValueType:
    if not t.id or t.id in TYPES and TYPES[t.id] is not t:
        raise ValueError(f"value type id {t.id!r} is empty or already registered")
    TYPES[t.id] = t
    _find_order.clear()  # a type a pack registers late is found too
    return t


def get_type(type_id: str) -> ValueType:
    try:
        return TYPES[type_id]
    except KeyError:
        raise KeyError(f"unknown value type {type_id!r}") from None


_find_order: list[ValueType] = []


def find_type(value: Any) -> ValueType | None:
    """The value type of a Python value (most specific first: bool before int before float)."""
    if not _find_order:
        _find_order.extend(sorted((t for t in TYPES.values() if t.python), key=lambda t: t.find_rank))
    for t in _find_order:
        if isinstance(value, t.python) and t.owns(value):
            return t
    return None


def can_connect(src: ValueType, dst: ValueType) -> bool:
    return src is dst or dst.id == "any" or src.id in dst.accepts


def convert(value: Any, src: ValueType, dst: ValueType) -> Any:
    if src is dst or dst.id == "any":
        return value
    return dst.convert(value, src)


# -- helpers for array-backed values -------------------------------------------------------
def frozen_array(arr: np.ndarray, dtype: Any | None = None) -> np.ndarray:
    """A read-only, C-contiguous array that nothing else can change.

    An array that owns its memory is frozen in place (no copy). A view is copied unless the
    memory under it is itself read-only (bytes, a read-only memory map): a read-only view of a
    writeable buffer could still change under the value and break its fingerprint.
    """
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if arr.base is not None and not _immutable_memory(arr):
        arr = arr.copy()
    if arr.flags.writeable:
        arr.flags.writeable = False
    return arr


def _immutable_memory(arr: np.ndarray) -> bool:
    root: Any = arr
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    if isinstance(root, np.ndarray):
        return False  # an owning array somewhere up the chain: it may be written through
    if isinstance(root, bytes):
        return True
    if isinstance(root, memoryview):
        return root.readonly
    try:
        return memoryview(root).readonly
    except TypeError:
        return False


def array_meta(arr: np.ndarray) -> dict:
    arr = hashing.little_endian(arr)
    return {"dtype": arr.dtype.str, "shape": list(arr.shape)}


def array_from(meta: dict, payload: memoryview, offset: int = 0) -> np.ndarray:
    dtype = np.dtype(meta["dtype"])
    shape = tuple(int(s) for s in meta["shape"])
    n = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset + n > len(payload):
        raise ValueError_(f"truncated payload: need {offset + n} bytes, have {len(payload)}")
    arr = np.frombuffer(payload, dtype=dtype, count=int(np.prod(shape, dtype=np.int64)), offset=offset)
    arr = arr.reshape(shape)
    if arr.flags.writeable:
        arr.flags.writeable = False
    return arr


def iter_chunks(*parts: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    for p in parts:
        yield from p


__all__ = [
    "ValueType", "PortType", "Preview", "Encoded", "ValueError_", "TYPES", "register_type",
    "get_type", "find_type", "can_connect", "convert", "port_type", "frozen_array",
]
