"""What a render of a graph uses: its models (where they are, their sha256, size, source and
licence), its node packs (version and licence) and its seeds, read from the graph without running
anything. Bundles (their manifest), ``nodegraph licences``, ``run --commercial``, ``models verify
GRAPH``, the editor's licence badges and the provenance written into outputs all ask this module.

A graph with Look instances is read as its flat document (``shot2/noir/grain``), so a model used
inside a Look counts. Only what a render computes counts: the nodes the output nodes (or the given
targets) need, bypassed nodes excepted.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

from .graph import Document
from .models.licences import LicenceInfo, identify, summary

__all__ = ["ModelUse", "PackUse", "Usage", "usage", "model_uses", "pack_uses", "seeds", "flat_of", "needed_nodes",
           "pack_licence",
           "why_not_commercial", "commercial_check", "shared_ref"]


@dataclass
class ModelUse:
    """One model param of one node, as this machine resolves it."""

    node: str  # flat node id (a node inside a Look instance is named by path: "shot2/noir/grain")
    type: str
    param: str
    kind: str
    ref: str  # the reference as the graph holds it ("xtts_v2", "org/name", "./model.safetensors")
    licence: LicenceInfo
    path: str | None = None  # where this machine has it (never written into shared files)
    repo_id: str | None = None
    found_by: str = ""  # path | registered | root | hub-cache | hub | "" (missing)
    format: str = ""
    size: int = 0
    sha256: str | None = None  # when asked for (``digests=True``) and the model is local
    recorded_sha256: str | None = None  # what the model registry recorded for it
    error: str = ""  # why it was not found

    @property
    def found(self) -> bool:
        return self.path is not None

    @property
    def source(self) -> str:
        """Where to get it: the hub repo id, else the family's official source, else ""."""
        if self.repo_id:
            return self.repo_id
        from .models.licences import family

        fam = family(self.licence.family) if self.licence.family else None
        return fam.source if fam else ""

    def manifest(self, base_dir: str | os.PathLike | None = None) -> dict:
        """What a bundle or an output records: no path of this machine (``shared_ref``)."""
        d: dict[str, Any] = {"node": self.node, "type": self.type, "param": self.param, "kind": self.kind,
                             "ref": shared_ref(self.ref, base_dir)}
        if self.sha256:
            d["sha256"] = self.sha256
        if self.size:
            d["size"] = self.size
        if self.format and self.format != "hub":
            d["format"] = self.format
        if self.source:
            d["source"] = self.source
        d["licence"] = self.licence.to_json()
        return d


def shared_ref(ref: str, base_dir: str | os.PathLike | None = None) -> str:
    """A model reference as shared files record it: an absolute path (or one from ``~``) becomes
    relative to the graph's folder ``base_dir`` when it lies inside it, else its last part, so no
    folder of the maker's machine travels; names, repo ids and relative paths stay as they are."""
    from .paths import is_absolute, relative_inside

    if not is_absolute(ref):
        return ref
    rel = relative_inside(os.path.expanduser(ref), base_dir) if base_dir is not None else None
    return rel if rel is not None else (os.path.basename(os.path.normpath(os.path.expanduser(ref))) or ref)


@dataclass
class PackUse:
    name: str  # the distribution (or, when none is installed, the namespace)
    distribution: str  # what to pip install ("" when unknown)
    version: str
    licence: str  # an SPDX id or the distribution's licence text, "" when it declares none
    namespaces: list[str] = field(default_factory=list)

    def manifest(self) -> dict:
        d = {"name": self.name, "distribution": self.distribution, "version": self.version,
             "namespaces": sorted(self.namespaces)}
        d["licence"] = self.licence or "unknown"
        return d


@dataclass
class Usage:
    models: list[ModelUse]
    packs: list[PackUse]
    seeds: list[dict]
    looks: list[str]  # the Look types used (``look:studio/noir@1.0.0``)
    doc: Document | None = None  # the flat document read
    nodes: list[str] = field(default_factory=list)  # the nodes of ``doc`` a render computes

    @property
    def licences(self) -> list[LicenceInfo]:
        return [m.licence for m in self.models]

    def licence_summary(self) -> str:
        return summary(self.licences)

    def not_commercial(self) -> list[ModelUse]:
        """The models that stop commercial use: non-commercial or of unknown licence."""
        return [m for m in self.models if m.licence.commercial in ("no", "unknown")]


def flat_of(doc: Document, registry: Any) -> Document:
    """``doc`` with its Look instances expanded (itself when it has none). A Look that cannot be
    expanded raises ``GraphInvalid`` naming it."""
    from .looks.expand import checked_expand, has_looks

    if getattr(doc, "is_flat", False) or not has_looks(doc):
        return doc
    flat, issues = checked_expand(doc, registry)
    if flat is None:
        from .errors import GraphInvalid

        raise GraphInvalid(issues)
    return flat.doc


def needed_nodes(doc: Document, registry: Any, targets: Iterable[str] | None = None) -> list[str]:
    """The nodes a render of ``doc`` (flat) computes, in document order, bypassed ones excepted."""
    from .results import parse_targets

    tl = parse_targets(doc, registry, list(targets) if targets is not None else None)
    need = doc.upstream([n for n, _ in tl])
    return [n for n in doc.node_ids() if n in need and not doc.node(n).get("bypass")]


def _param_values(doc: Document, registry: Any, nodes: Iterable[str], want: Any) -> Iterable[tuple]:
    """(node, spec, port, value) for each param of ``nodes`` that ``want(port)`` picks: its stored
    value, else its default; a param fed by a link counts when the link comes from a node holding
    one value (a Text node holding a model name), else its value is None."""
    for nid in nodes:
        spec = registry.specs.get(doc.type_of(nid))
        if spec is None:
            continue
        params, linked = doc.params(nid), doc.inputs(nid)
        for port in spec.inputs:
            if port.is_param and want(port):
                value = _linked_value(doc, linked[port.name]) if port.name in linked else \
                    params.get(port.name, port.default_json)
                yield nid, spec, port, value


def _is_model(port: Any) -> bool:
    return port.type.id == "path" and str(port.type.opts.get("kind") or "").startswith("model:")


def _model_refs(doc: Document, registry: Any, nodes: list[str]) -> list[tuple[str, str, str, str, str]]:
    """(node, type, param, kind, ref) for every model param of ``nodes`` that names a model."""
    return [(nid, spec.id, port.name, str(port.type.opts["kind"])[6:], value.strip())
            for nid, spec, port, value in _param_values(doc, registry, nodes, _is_model)
            if isinstance(value, str) and value.strip()]


def _linked_value(doc: Document, links: list) -> Any:
    if len(links) != 1:
        return None
    p = doc.params(links[0].src)
    return p.get("value") if len(p) == 1 else None


def model_uses(doc: Document, registry: Any, base_dir: str | os.PathLike, *, digests: bool = False,
               targets: Iterable[str] | None = None, pins: Any = None) -> list[ModelUse]:
    """Every model a render of ``doc`` uses, resolved on this machine without downloading
    (``digests``: hash the local ones; hashes are remembered by path, size and mtime). ``pins``
    (``nodegraph.models.pins.ModelPins``): a reference found nowhere else is looked for by the
    sha256 its bundle manifest records, as a run does."""
    flat = flat_of(doc, registry)
    return _model_uses(flat, registry, base_dir, needed_nodes(flat, registry, targets), digests, pins)


def _model_uses(flat: Document, registry: Any, base_dir: str | os.PathLike, nodes: list[str], digests: bool,
                pins: Any) -> list[ModelUse]:
    from .models.config import read_config
    from .models.errors import ModelError
    from .models.lookup import hub_subpath, is_repo_id, resolve

    registered = read_config().get("models", {})
    out = []
    for nid, tid, param, kind, ref in _model_refs(flat, registry, nodes):
        entry = registered.get(ref) if isinstance(registered.get(ref), dict) else {}
        recorded = entry.get("licence") if entry.get("kind", kind) == kind else None
        try:
            try:
                r = resolve(ref, kind, base_dir, offline=True)
            except ModelError:
                r = pins.find(ref, kind) if pins else None
                if r is None:
                    raise
        except (ModelError, OSError, ValueError) as e:
            repo = ref if is_repo_id(ref) else (hub_subpath(ref)[0] or entry.get("repo_id") or None)
            out.append(ModelUse(nid, tid, param, kind, ref, identify(ref, kind, repo_id=repo, recorded=recorded),
                                repo_id=repo, error=str(e)))
            continue
        use = ModelUse(nid, tid, param, kind, ref,
                       identify(ref, kind, path=r.path, repo_id=r.repo_id, recorded=recorded),
                       path=str(r.path) if r.path is not None else None, repo_id=r.repo_id, found_by=r.found_by,
                       format=r.format, size=r.size, recorded_sha256=r.registered_sha256)
        if digests and r.path is not None:
            try:
                use.sha256 = r.digest()
            except OSError as e:
                use.error = f"cannot read {r.path}: {e}"
        out.append(use)
    return out


def pack_licence(distribution: str) -> str:
    """A distribution's declared licence: ``License-Expression``, else a short ``License``, else
    its OSI classifier; "" when it declares none."""
    try:
        md = metadata.distribution(distribution).metadata
    except metadata.PackageNotFoundError:
        return ""
    expr = (md.get("License-Expression") or "").strip()
    if expr:
        return expr
    text = (md.get("License") or "").strip()
    if text and len(text) <= 64 and "\n" not in text:
        return text
    for c in md.get_all("Classifier") or []:
        if c.startswith("License ::"):
            return c.split("::")[-1].strip()
    return ""


def pack_uses(doc: Document, registry: Any, nodes: Iterable[str] | None = None) -> list[PackUse]:
    """The node packs whose node types ``doc`` (flat) uses (all its nodes, or ``nodes``)."""
    base = getattr(registry, "base", registry)
    by_ns: dict[str, Any] = {}
    for pack in base.packs.values():
        for ns in pack.namespaces:
            by_ns[ns] = pack
    used: dict[str, PackUse] = {}
    for nid in (doc.node_ids() if nodes is None else nodes):
        tid = doc.type_of(nid)
        if tid.startswith("look:"):
            continue
        ns = tid.split(".", 1)[0]
        pack = by_ns.get(ns)
        if pack is None:
            dist = doc.packs.get(ns, "") if isinstance(doc.packs, dict) else ""
            pu = used.setdefault(f"?{ns}", PackUse(ns, dist or "", "", ""))
        else:
            dist = pack.distribution or pack.name  # one entry per distribution: what to pip install
            pu = used.setdefault(dist, PackUse(dist, dist, pack.version, pack_licence(dist)))
        if ns not in pu.namespaces:
            pu.namespaces.append(ns)
    return sorted(used.values(), key=lambda p: p.name)


def seeds(doc: Document, registry: Any, nodes: Iterable[str]) -> list[dict]:
    """``{"node", "param", "value"}`` for each seed param (type ``Seed``) of ``nodes``."""
    return [{"node": nid, "param": port.name, "value": value}
            for nid, _spec, port, value in _param_values(doc, registry, nodes, lambda p: p.type.id == "seed")]


def usage(doc: Document, registry: Any, base_dir: str | os.PathLike, *, digests: bool = False,
          targets: Iterable[str] | None = None, pins: Any = None) -> Usage:
    """Models, packs, seeds and Looks of a render of ``doc`` (see the module docs)."""
    looks = sorted({doc.type_of(n) for n in doc.node_ids() if doc.type_of(n).startswith("look:")})
    flat = flat_of(doc, registry)
    nodes = needed_nodes(flat, registry, targets)
    return Usage(_model_uses(flat, registry, base_dir, nodes, digests, pins), pack_uses(flat, registry, nodes),
                 seeds(flat, registry, nodes), looks, flat, nodes)



def why_not_commercial(m: ModelUse) -> str:
    """One line naming the node and the model that stop commercial use, and why."""
    where = f"node {m.node!r} ({m.type}): model {m.ref!r}"
    if m.licence.commercial == "no":
        extra = f"; {m.licence.licence.conditions}" if m.licence.licence.conditions else ""
        return f"{where} is under {m.licence.licence.name}, which does not allow commercial use{extra}"
    looks = f" (it looks like {m.licence.looks_like})" if m.licence.looks_like else ""
    return (f"{where}: its licence is unknown{looks}; read its model card and record the licence with "
            f"`nodegraph models add PATH --kind {m.kind} --name {m.ref} --licence ID`")


def commercial_check(u: Usage) -> tuple[list[str], list[str]]:
    """(refusals, conditions) for a commercial render: a line per model that is non-commercial or
    of unknown licence, and a line per model allowed only under conditions."""
    refusals = [why_not_commercial(m) for m in u.not_commercial()]
    conditions = [f"node {m.node!r} ({m.type}): model {m.ref!r} is under {m.licence.licence.name}: "
                  f"{m.licence.licence.conditions}" for m in u.models if m.licence.commercial == "conditional"]
    return refusals, conditions
