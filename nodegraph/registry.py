"""The table of node types, filled from node packs found through entry points.

A pack is any installed distribution that declares, in its pyproject.toml::

    [project.entry-points."nodegraph.nodes"]
    mypack = "mypack.nodes"          # a module (or a list of modules, or a function returning specs)

Every ``@node`` function in the module is registered. A node whose declaration is wrong is
reported (``Pack.broken``: node id -> the error, naming the node) and skipped; the rest of its pack
loads. A pack that fails to import at all is recorded with its error, so a graph that uses its
nodes can say which pack is broken or missing.
"""
from __future__ import annotations

import difflib
import types as pytypes
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any, Iterable

from .errors import format_error
from .node import DeclarationError, NodeSpec, _collecting

GROUP = "nodegraph.nodes"


@dataclass
class Pack:
    name: str
    target: str
    distribution: str = ""
    version: str = ""
    error: str = ""
    namespaces: set[str] = field(default_factory=set)
    nodes: list[str] = field(default_factory=list)
    #: node id -> why it was not registered (a wrong declaration, a duplicate id)
    broken: dict[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """One line per problem of this pack, for people."""
        out = [f"pack {self.distribution or self.name!r} failed to load: {self.error}"] if self.error else []
        out += [f"pack {self.distribution or self.name!r}: node {nid!r} skipped: {msg}" for nid, msg in self.broken.items()]
        return out


class UnknownNodeType(KeyError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Registry:
    def __init__(self) -> None:
        self.specs: dict[str, NodeSpec] = {}
        self.packs: dict[str, Pack] = {}

    # -- filling ------------------------------------------------------------------------------
    def add(self, spec: NodeSpec, pack: Pack | None = None) -> NodeSpec:
        if pack is not None:
            spec = replace(spec, pack=pack.distribution or pack.name, pack_version=pack.version)
        old = self.specs.get(spec.id)
        if old is not None and old.fn is not spec.fn:
            raise DeclarationError(
                f"node type {spec.id!r} is declared twice: {old.source} (pack {old.pack or '?'}) "
                f"and {spec.source} (pack {spec.pack or '?'})")
        self.specs[spec.id] = spec
        if pack is not None:
            pack.namespaces.add(spec.namespace)
            pack.nodes.append(spec.id)
        return spec

    def add_module(self, module: pytypes.ModuleType, pack: Pack | None = None) -> list[NodeSpec]:
        added = []
        for value in vars(module).values():
            spec = getattr(value, "__nodegraph__", None)
            if isinstance(spec, NodeSpec) and getattr(value, "__module__", None) == module.__name__:
                got = self._add_one(spec, pack)
                if got is not None:
                    added.append(got)
        return added

    def _add_one(self, spec: NodeSpec, pack: Pack | None) -> NodeSpec | None:
        """Add, or (loading a pack) report the node as broken and go on with the others."""
        if pack is None:
            return self.add(spec)
        try:
            return self.add(spec, pack)
        except DeclarationError as e:
            pack.broken[spec.id] = str(e)
            return None

    def add_target(self, target: Any, pack: Pack | None = None) -> None:
        """Register from a module, a @node function, a NodeSpec, or an iterable of those."""
        if isinstance(target, pytypes.ModuleType):
            self.add_module(target, pack)
        elif isinstance(target, NodeSpec):
            self._add_one(target, pack)
        elif isinstance(getattr(target, "__nodegraph__", None), NodeSpec):
            self._add_one(target.__nodegraph__, pack)
        elif callable(target):
            self.add_target(target(), pack)
        elif isinstance(target, Iterable) and not isinstance(target, (str, bytes)):
            for t in target:
                self.add_target(t, pack)
        else:
            raise DeclarationError(f"pack {pack.name if pack else '?'}: cannot register {target!r}")

    def load_entry_points(self, group: str = GROUP) -> "Registry":
        for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else ""
            version = ep.dist.version if ep.dist is not None else ""
            self.load_pack(Pack(ep.name, ep.value, dist, version), ep.load)
        return self

    def load_pack(self, pack: Pack, load: Any) -> Pack:
        """Import a pack (``load()`` returns what to register) and register its nodes; a node
        whose declaration fails is reported in ``pack.broken`` and the others still register."""
        self.packs[pack.name] = pack
        collected: list[tuple[str, str]] = []
        token = _collecting.set(collected)
        try:
            self.add_target(load(), pack)
        except Exception as e:  # a pack that cannot be imported must not break the others
            pack.error = format_error(e)
        finally:
            _collecting.reset(token)
        for nid, message in collected:
            pack.broken.setdefault(nid, message)
        return pack

    def problems(self) -> list[str]:
        """Every pack or node that could not be registered, one line each."""
        return [line for p in self.packs.values() for line in p.problems()]

    # -- lookup -------------------------------------------------------------------------------
    def __contains__(self, type_id: str) -> bool:
        return type_id in self.specs

    def __iter__(self):
        return iter(sorted(self.specs.values(), key=lambda s: (s.category, s.id)))

    def __len__(self) -> int:
        return len(self.specs)

    def get(self, type_id: str, known_packs: dict[str, str] | None = None) -> NodeSpec:
        spec = self.specs.get(type_id)
        if spec is None:
            raise UnknownNodeType(self.explain_unknown(type_id, known_packs or {}))
        return spec

    def explain_unknown(self, type_id: str, known_packs: dict[str, str]) -> str:
        """Why a type id is unknown: which pack should provide it and what is wrong with it."""
        if type_id.startswith("look:"):
            return (f"{type_id[5:]} is a Look, and this run was given no Look library "
                    "(nodegraph.looks.with_looks gives one)")
        ns = type_id.split(".", 1)[0]
        for pack in self.packs.values():
            if type_id in pack.broken:
                return f"unknown node type {type_id!r}: its declaration in pack {pack.distribution or pack.name!r} failed: {pack.broken[type_id]}"
        for pack in self.packs.values():
            if ns in pack.namespaces or pack.name == ns or (pack.error and known_packs.get(ns) in (pack.distribution, pack.name)):
                if pack.error:
                    return f"unknown node type {type_id!r}: its pack {pack.distribution or pack.name!r} failed to load ({pack.error})"
                return (f"unknown node type {type_id!r}: pack {pack.distribution or pack.name!r} is installed but has no such node"
                        + (self.did_you_mean(type_id) or " (it may be a newer version)"))
        wanted = known_packs.get(ns)
        if wanted:
            return f"unknown node type {type_id!r}: it comes from the pack {wanted!r}, which is not installed (pip install {wanted})"
        return f"unknown node type {type_id!r}: no installed pack provides the {ns!r} namespace{self.did_you_mean(type_id)}"

    def did_you_mean(self, type_id: str) -> str:
        """``"; did you mean 'voice.speak'?"`` for the closest installed type ids (matching the
        part after the dot too: ``speak``), or ``""``."""
        close = difflib.get_close_matches(type_id, list(self.specs), n=2, cutoff=0.7)
        if not close:
            short: dict[str, list[str]] = {}
            for t in self.specs:
                short.setdefault(t.split(".", 1)[1], []).append(t)
            close = [t for c in difflib.get_close_matches(type_id.rsplit(".", 1)[-1], list(short), n=2, cutoff=0.75)
                     for t in short[c]][:2]
        return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""

    def pack_of_namespace(self) -> dict[str, str]:
        """namespace -> distribution name, recorded in saved graphs for missing-pack hints."""
        out: dict[str, str] = {}
        for pack in self.packs.values():
            for ns in pack.namespaces:
                out[ns] = pack.distribution or pack.name
        return out


_default: Registry | None = None


def default_registry(reload: bool = False) -> Registry:
    """The registry of every installed pack (loaded once per process)."""
    global _default
    if _default is None or reload:
        _default = Registry().load_entry_points()
    return _default
