"""``ctx.models``: what a node reaches models through.

A node never calls the model manager's module functions or its process-wide cache itself; it
asks the :class:`Models` its :class:`~nodegraph.Context` carries. That keeps the services a node
uses in one place (a test, a worker or a future remote model store hands a node another
``Models``) and keeps the node's own code free of global state. The default one shares the
process-wide :func:`~nodegraph.models.shared_cache`, so a model loads once per process whichever
node asks for it.

Torch-free: torch is imported only by :meth:`Models.torch_dtype` and by the loaders nodes pass.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Hashable

from .checkpoints import single_file_config
from .config import config_dir
from .digests import path_digest
from .errors import ModelError
from .lookup import ResolvedModel, download, resolve
from .runtime import ModelCache, choose_device, dtype_for, shared_cache, torch_dtype


class Models:
    """Resolving, fetching, digesting and loading models, for one node's run.

    ``base_dir``: the folder relative model paths are taken from (the graph's folder; the
    Context passes its own). ``cache``: where loaded models are kept (default: the process-wide
    cache, so every node of the process shares each load).
    """

    def __init__(self, base_dir: str | os.PathLike | None = None, cache: ModelCache | None = None,
                 policy: Any = None, pins: Any = None):
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._cache = cache
        #: the sha256 a bundle manifest records per reference (``nodegraph.models.pins.ModelPins``):
        #: a reference found nowhere else is looked for by those bytes
        self.pins = pins
        #: what the graph may read (``nodegraph.policy.Policy``): a model found by path outside the
        #: graph's folders and the model folders is refused, as any other file would be
        self.policy = policy

    # -- finding weights (never loads them) ---------------------------------------------------------
    def resolve(self, ref: str, kind: str, base_dir: str | os.PathLike | None = None) -> ResolvedModel:
        """``ref`` (a path, a registered name, a name under the model folders, a Hugging Face repo
        id) resolved for a model of ``kind``, without downloading; relative paths are taken from
        ``base_dir`` (default: the graph's folder); a reference found nowhere is looked for by the
        sha256 its bundle manifest pins (``pins``). Raises ``ModelNotFound`` naming where it looked,
        or ``ReadNotAllowed`` when a path leads outside what the graph may read."""
        try:
            m = resolve(ref, kind, self._base(base_dir))
        except ModelError:
            found = self.pins.find(ref, kind) if self.pins else None
            if found is None:
                raise
            return found
        if self.policy is not None and m.path is not None and m.found_by == "path":
            self.policy.check_read(str(m.path))
        return m

    def download(self, model: ResolvedModel) -> ResolvedModel:
        """A ``hub`` reference fetched into the Hugging Face cache and resolved again (others as they are)."""
        return download(model)

    def local(self, ref: str, kind: str, base_dir: str | os.PathLike | None = None) -> ResolvedModel:
        """:meth:`resolve`, then :meth:`download` when it names the hub: local files."""
        m = self.resolve(ref, kind, base_dir)
        return self.download(m) if m.format == "hub" else m

    def digest(self, path: str | os.PathLike) -> str:
        """sha256 of a file or folder (remembered by path, size and mtime, so hashed once)."""
        return path_digest(path)

    def single_file_config(self, path: str | os.PathLike, config: str | None = None) -> Path:
        """The local diffusers config folder a single-file checkpoint needs to load offline."""
        return single_file_config(path, config or None)

    def derived_dir(self, name: str) -> Path:
        """A folder for files made from a model (a config read from its tensors, a link to it),
        kept under the nodegraph config folder; created by the caller."""
        return config_dir() / "derived" / name

    # -- where and how to run ---------------------------------------------------------------------
    def device(self, preference: str = "auto") -> str:
        """``cuda`` > ``mps`` > ``cpu`` (or ``preference`` / ``$NODEGRAPH_DEVICE``; an unavailable one is an error)."""
        return choose_device(preference)

    def dtype(self, device: str, preference: str | None = None, default: str | None = None) -> str:
        """``preference`` if given, else ``$NODEGRAPH_DTYPE``, else ``default``, else float16 on
        cuda/mps and float32 on cpu."""
        return dtype_for(device, None if preference == "auto" else preference, default=default)

    def torch_dtype(self, name: str) -> Any:
        """The torch dtype for a dtype name (imports torch)."""
        return torch_dtype(name)

    # -- loading once per process -------------------------------------------------------------------
    @property
    def cache(self) -> ModelCache:
        """The in-RAM cache of loaded models (its ``loads`` counts real loads)."""
        return self._cache if self._cache is not None else shared_cache()

    def load(self, key: Hashable, loader: Callable[[], Any], size: int | None = None) -> Any:
        """The object kept under ``key``, or ``loader()`` run once and kept (concurrent callers of
        one key wait for that one load). Key it by what determines the object: the weights'
        digest, a tag for what is built from them, device, dtype."""
        return self.cache.get_or_load(key, loader, size=size)

    def _base(self, base_dir: str | os.PathLike | None) -> Path | None:
        return Path(base_dir) if base_dir is not None else self.base_dir

    def __repr__(self) -> str:
        return f"<Models base_dir={str(self.base_dir) if self.base_dir else None!r}>"


__all__ = ["Models"]
