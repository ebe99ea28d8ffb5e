"""Expanding Look instances into their inner nodes, for evaluation.

An instance ``noir`` of a Look whose graph has nodes ``grade`` and ``grain`` becomes nodes
``noir/grade`` and ``noir/grain`` of a flat document: the wires into the instance's inputs go to
the inner ports each input feeds, its promoted params are written into (or wired to) the inner
params they stand for, and the wires out of it leave from the inner outputs. Nested Looks expand
the same way (``shot2/noir/grain``). The evaluator runs the flat document, so every inner node has
its own content key: changing one promoted param re-runs only the inner nodes below it, and the
same Look used in three shots shares whatever is the same.

Inner path params (a LUT file) are relative to the Look's own file; the flat document lists those
folders (``read_roots``) so the graph may read them, and nothing outside them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..graph import Document, Link
from .model import TYPE_PREFIX, Look

MAX_DEPTH = 16


class ExpandError(ValueError):
    """An instance that cannot be expanded; the message names it."""

    def __init__(self, node: str, message: str):
        super().__init__(message)
        self.node = node


@dataclass
class Flat:
    doc: Document
    #: (instance, output port) -> (flat node, port) the value comes from (followed through nested
    #: and bypassed instances once, when the expansion is done)
    outputs: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    #: instance -> every flat node inside it (nested ones too), in id order
    members: dict[str, list[str]] = field(default_factory=dict)
    #: folders of the Looks used (their inner files are read from there)
    read_roots: list[str] = field(default_factory=list)

    def source(self, node: str, port: str) -> tuple[str, str]:
        """The flat (node, port) whose value ``node.port`` is (itself for an ordinary node)."""
        return self.outputs.get((node, port), (node, port))

    def ports(self, instance: str) -> list[str]:
        """The output ports of an instance."""
        return sorted(p for (i, p) in self.outputs if i == instance)

    def changed(self, nodes: frozenset[str]) -> frozenset[str]:
        """Outer node ids dirtied by an edit -> flat ids."""
        out: set[str] = set()
        for n in nodes:
            m = self.members.get(n)
            if m is None:
                out.add(n)
            else:
                out.update(m)
        return frozenset(out)


def has_looks(doc: Document) -> bool:
    nodes = doc.g._node
    return any(rec["type"].startswith(TYPE_PREFIX) for rec in nodes.values())


def expand(doc: Document, look_of: Any, spec_of: Any) -> Flat:
    """The flat document of ``doc``; ``look_of(type_id)`` gives the Look of an instance type (or
    None), ``spec_of(type_id)`` a node type's spec (or None). Raises ``ExpandError`` naming the
    instance that cannot be expanded."""
    flat_doc = Document()
    flat_doc.is_flat = True  # type: ignore[attr-defined]  # (the evaluator does not expand it again)
    flat_doc.looks_used = {}  # type: ignore[attr-defined]  # instance -> Look type (provenance records name them)
    flat = Flat(flat_doc)
    flat_doc.uid = doc.uid
    flat_doc.meta, flat_doc.packs = doc.meta, doc.packs
    flat_doc.revision, flat_doc.structure_revision = doc.revision, doc.structure_revision
    flat_doc.dangling = list(doc.dangling)  # links from nodes that do not exist: validate reports them
    roots: dict[str, None] = {}
    ins: dict[tuple[str, str], list[tuple[str, str]]] = {}
    _add(doc, "", look_of, spec_of, flat, ins, roots, ())
    for rev, nodes in doc.change_log:
        flat_doc.change_log.append((rev, flat.changed(nodes)))
    flat.read_roots = list(roots)
    flat.outputs = {k: _resolve_out(flat, *v) for k, v in flat.outputs.items()}
    return flat


def _resolve_out(flat: Flat, node: str, port: str) -> tuple[str, str]:
    seen = 0
    while (node, port) in flat.outputs:
        node, port = flat.outputs[(node, port)]
        seen += 1
        if seen > 10_000:
            raise ExpandError(node, f"the outputs of {node!r} lead round in a circle")
    return node, port


def _add(doc: Document, prefix: str, look_of: Any, spec_of: Any, flat: Flat, ins: dict, roots: dict, stack: tuple,
         title: str = "", places: dict | None = None) -> None:
    g = flat.doc.g
    for nid in doc.node_ids():
        fid = prefix + nid
        rec = doc.node(nid)
        t = rec["type"]
        if not t.startswith(TYPE_PREFIX):
            new = dict(rec)
            new["params"] = dict(rec["params"])
            if title:  # "Noir > Film grain": where an inner node sits, for logs and walkthroughs
                spec = spec_of(t)
                new["label"] = f"{title} \u203a {rec.get('label') or (spec.title if spec else nid)}"
            g.add_node(fid, **new)
            continue
        look: Look | None = look_of(t)
        where = fid.replace("/", " > ")
        if look is None:
            raise ExpandError(fid, f"node {where!r}: {t[len(TYPE_PREFIX):]} is not installed")
        if t in stack:
            raise ExpandError(fid, f"node {where!r}: Look {look.label} contains itself")
        if len(stack) >= MAX_DEPTH:
            raise ExpandError(fid, f"node {where!r}: Looks nested more than {MAX_DEPTH} deep")
        if rec.get("bypass"):
            _bypass(doc, nid, fid, prefix, look, flat)
            flat.members[fid] = []
            for name in list(look.inputs) + list(look.params):  # wires into it lead nowhere
                ins[(fid, name)] = []
            continue
        flat.doc.looks_used[fid] = t  # type: ignore[attr-defined]
        before = set(g)
        inner_title = rec.get("label") or look.title or look.id
        _add(look.graph, fid + "/", look_of, spec_of, flat, ins, roots, stack + (t,),
             f"{title} \u203a {inner_title}" if title else inner_title, look.inner_places())
        members = sorted(set(g) - before)
        flat.members[fid] = members
        if look.path:
            folder = str(Path(look.path).resolve().parent)
            roots.setdefault(folder, None)
            _rebase_paths(flat.doc, look, fid + "/", folder, spec_of)
        params = rec["params"]
        linked = doc.inputs(nid)
        for name, pro in look.params.items():
            targets = _inner_targets(ins, [(fid + "/" + n, p, None) for n, p in pro.to])
            ins[(fid, name)] = targets  # a wire into the promoted param goes to every inner param
            if name in linked:
                continue
            value = params.get(name, pro.default)
            if value is None:
                continue
            for n, p, _ in targets:
                if not any(l.dst_port == p for l in flat.doc.links_into(n)):
                    g._node[n]["params"][p] = value
        for name, port in look.inputs.items():
            ins[(fid, name)] = _inner_targets(ins, [(fid + "/" + n, p, port.orders.get((n, p))) for n, p in port.to])
        for name, port in look.outputs.items():
            flat.outputs[(fid, name)] = (fid + "/" + port.source[0], port.source[1])
        policy = rec.get("cache", "default")
        if policy != "default":
            for m in members:
                g._node[m]["cache"] = policy
    for link in doc.links():
        src, sport = _resolve_out(flat, prefix + link.src, link.src_port)
        if places and (link.dst, link.dst_port) in places:  # an inner wire beside cut wires: its place
            link = link._replace(order=places[(link.dst, link.dst_port)].get(link.order, link.order))
        for dst, dport, order in ins.get((prefix + link.dst, link.dst_port), [(prefix + link.dst, link.dst_port, None)]):
            # into a variadic inner port, a cut wire keeps the place it had among that port's wires
            flat.doc._add_link(Link(dst, dport, link.order if order is None else order, src, sport))


def _inner_targets(ins: dict, targets: list[tuple[str, str, int | None]]) -> list[tuple[str, str, int | None]]:
    """Targets that are ports of a nested instance stand for the inner ports behind them
    (node, port, the place among that port's wires, or None for the outer wire's own)."""
    out: list[tuple[str, str, int | None]] = []
    for n, p, o in targets:
        out.extend(ins.get((n, p), [(n, p, o)]))
    return out


def _bypass(doc: Document, nid: str, fid: str, prefix: str, look: Look, flat: Flat) -> None:
    """A bypassed instance hands each output the first linked input of the same type."""
    linked = doc.inputs(nid)
    for name, port in look.outputs.items():
        for iname, iport in look.inputs.items():
            if iport.type == port.type and linked.get(iname):
                first = linked[iname][0]
                flat.outputs[(fid, name)] = (prefix + first.src, first.src_port)
                break
        else:
            raise ExpandError(fid, f"node {fid!r} (Look {look.label}) is bypassed, but no linked input holds a "
                                   f"{port.type} to pass on to output {name!r}: link one, or turn bypass off")


def _rebase_paths(doc: Document, look: Look, prefix: str, folder: str, spec_of: Any) -> None:
    """Relative file params of the Look's own inner nodes name files beside the Look file."""
    for nid in look.graph.node_ids():
        rec = doc.g._node.get(prefix + nid)
        spec = spec_of(rec["type"]) if rec is not None else None
        if spec is None:
            continue  # a nested instance: its own Look's folder applies inside it
        params = rec["params"]
        for port in spec.inputs:
            v = params.get(port.name)
            if port.type.id != "path" or str(port.type.opts.get("kind") or "").startswith("model:"):
                continue
            if isinstance(v, str) and v.strip() and not os.path.isabs(os.path.expanduser(v)):
                params[port.name] = os.path.normpath(os.path.join(folder, v))


def checked_expand(doc: Document, registry: Any, policy: Any = None, check_files: bool = False) -> tuple[Flat | None, list]:
    """Validate ``doc`` at the level of its instances (a Look not installed, a wrong wire or
    value on an instance), then expand it: (the flat document, the problems found). The inner
    nodes are checked by validating the flat document (named by path)."""
    from ..validate import Issue, validate

    instances = {n for n, rec in doc.g._node.items() if rec["type"].startswith(TYPE_PREFIX)}
    issues = [i for i in validate(doc, registry, instances, policy=policy, check_files=check_files)
              if i.node in instances]  # the other nodes are checked once, in the flat document
    if issues:
        return None, issues
    try:
        flat = expand(doc, getattr(registry, "look", None) or (lambda t: None), registry.specs.get)
    except ExpandError as e:
        return None, [Issue("look", str(e), e.node)]
    return flat, []


def validate_all(doc: Document, registry: Any, policy: Any = None, check_files: bool = False) -> list:
    """Every problem of a graph, Look instances included: its own nodes, then their inner nodes
    (``noir/grain``), as ``validate`` reports them."""
    from ..validate import validate

    if not has_looks(doc):
        return validate(doc, registry, policy=policy, check_files=check_files)
    flat, issues = checked_expand(doc, registry, policy, check_files)
    if flat is None:
        return issues
    if flat.read_roots and policy is not None:
        policy = policy.widened(flat.read_roots)
    return validate(flat.doc, registry, policy=policy, check_files=check_files)
