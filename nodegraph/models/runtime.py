"""Device and dtype choice, and the in-RAM cache of loaded models shared by every node of a process.

torch is imported lazily and only to ask which accelerator exists; without torch the device is cpu.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, NamedTuple

from .errors import ModelError

ENV_DEVICE = "NODEGRAPH_DEVICE"
ENV_DTYPE = "NODEGRAPH_DTYPE"
ENV_CACHE_BYTES = "NODEGRAPH_MODEL_RAM"
DEVICES = ("cuda", "mps", "cpu")
DTYPES = ("float32", "float16", "bfloat16")


def _torch():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def _available(torch, device: str) -> bool:
    if torch is None:
        return device == "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return False
        idx = device.partition(":")[2]
        return not idx or (idx.isdigit() and int(idx) < torch.cuda.device_count())
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return device == "cpu"


def choose_device(preference: str = "auto") -> str:
    """``cuda`` > ``mps`` > ``cpu``; ``preference`` (or ``$NODEGRAPH_DEVICE`` when it is ``auto``) forces one.

    A forced device that is not available is an error (not a silent fall back to cpu).
    """
    pref = (preference or "auto").strip().lower()
    source = "preference"
    if pref == "auto" and os.environ.get(ENV_DEVICE, "").strip():
        pref, source = os.environ[ENV_DEVICE].strip().lower(), ENV_DEVICE
    if pref == "cpu":
        return "cpu"
    if pref != "auto" and not (pref in DEVICES or (pref.startswith("cuda:") and pref[5:].isdigit())):
        raise ModelError(f"device {pref!r} (from {source}): expected auto, cuda, cuda:N, mps or cpu")
    torch = _torch()
    if pref == "auto":
        return next(d for d in DEVICES if _available(torch, d))
    if torch is None:
        raise ModelError(f"device {pref!r} (from {source}) needs torch, which is not installed "
                         f"(pip install 'nodegraph[ai]'), or use cpu")
    if not _available(torch, pref):
        raise ModelError(f"device {pref!r} (from {source}) is not available on this machine; use auto or cpu")
    return pref


def dtype_for(device: str, preference: str | None = None, default: str | None = None) -> str:
    """``float16`` on cuda/mps, ``float32`` on cpu; ``preference``, else ``$NODEGRAPH_DTYPE``, else
    ``default`` overrides."""
    pref = (preference or os.environ.get(ENV_DTYPE, "") or default or "auto").strip().lower()
    if pref != "auto":
        if pref not in DTYPES:
            raise ModelError(f"dtype {pref!r}: expected auto, {', '.join(DTYPES)}")
        return pref
    return "float16" if device.startswith(("cuda", "mps")) else "float32"


def torch_dtype(name: str):
    """The torch dtype object for a dtype string (imports torch)."""
    import torch

    return getattr(torch, name)


# -- the in-RAM model cache ----------------------------------------------------------------------

class ModelKey(NamedTuple):
    digest: str
    device: str
    dtype: str


def _default_ram_budget() -> int:
    env = os.environ.get(ENV_CACHE_BYTES, "").strip()
    if env:
        try:
            from ..cache import parse_size

            return int(parse_size(env))
        except Exception:
            raise ModelError(f"{ENV_CACHE_BYTES}={env!r}: expected a size such as 12G") from None
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    return total // 2


class ModelCache:
    """Loaded models kept in RAM, keyed by (digest, device, dtype), within a byte budget (LRU).

    ``get_or_load(key, loader)`` returns the cached object or calls ``loader()`` once: concurrent
    callers of the same key wait for that one load (a lock per key); different keys load in
    parallel. Nothing is ever written to disk. An object larger than the budget is still returned
    and kept until the next insertion (every other entry is evicted to make room for it).
    """

    def __init__(self, budget_bytes: int | None = None, size_fn: Callable[[Any], int] | None = None,
                 on_evict: Callable[[Hashable, Any], None] | None = None):
        self.budget = _default_ram_budget() if budget_bytes is None else int(budget_bytes)
        self.size_fn = size_fn
        self.on_evict = on_evict
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self.hits = self.loads = self.evictions = 0

    def get_or_load(self, key: Hashable, loader: Callable[[], Any], size: int | None = None) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            klock = self._key_locks.setdefault(key, threading.Lock())
        with klock:
            with self._lock:
                if key in self._items:              # loaded by the caller we waited for
                    self._items.move_to_end(key)
                    self.hits += 1
                    return self._items[key][0]
            obj = loader()
            nbytes = size if size is not None else (self.size_fn(obj) if self.size_fn else 0)
            evicted = []
            with self._lock:
                self.loads += 1
                self._items[key] = (obj, int(nbytes))
                total = sum(n for _, n in self._items.values())
                while total > self.budget and len(self._items) > 1:
                    old_key, (old, n) = self._items.popitem(last=False)
                    total -= n
                    self.evictions += 1
                    evicted.append((old_key, old))
                self._key_locks.pop(key, None)
        for old_key, old in evicted:
            if self.on_evict:
                self.on_evict(old_key, old)
        return obj

    def load(self, model, device: str, dtype: str, loader: Callable[[], Any]) -> Any:
        """``get_or_load`` for a :class:`ResolvedModel`: keyed by its digest, sized by its file/folder size."""
        return self.get_or_load(ModelKey(model.digest(), device, dtype), loader, size=model.size)

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            return item[0] if item else None

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            items = list(self._items.items())
            self._items.clear()
        for k, (obj, _) in items:
            if self.on_evict:
                self.on_evict(k, obj)

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(n for _, n in self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def keys(self) -> list:
        with self._lock:
            return list(self._items)


_shared: ModelCache | None = None
_shared_lock = threading.Lock()


def shared_cache() -> ModelCache:
    """The process-wide cache every AI node uses (so a model loads once per process, not once per node)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ModelCache()
        return _shared
