"""Making a Look from a selection, and what can be done to an instance: put one in place of the
selection, upgrade it to another version (keeping the user's values, through the Look's
migrations), unlock it (its inside becomes ordinary nodes of the graph, in a group).

Each edit to a graph is one ``Batch`` of commands: one undo step in the editor.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

from ..commands import AddNode, Batch, Change, Command, Connect, RemoveNode, SetGroup, _SetPortLinks, _need
from ..errors import NodegraphError
from ..graph import Document, Link
from ..registry import Registry
from .model import LOOK_ID, PORT, SEMVER, Look, LookPort, Promoted, renames_between, split_type


@dataclass
class Promote:
    """A param to put on the Look's face: ``node.param``, with what the artist chose."""

    node: str
    param: str
    name: str = ""
    label: str = ""
    group: str = ""
    min: float | None = None
    max: float | None = None
    default: Any = None

    @classmethod
    def parse(cls, text: str) -> "Promote":
        """``node.param`` or ``node.param=Label`` (the CLI's ``--promote``)."""
        ref, _, label = text.partition("=")
        node, dot, param = ref.strip().rpartition(".")
        if not dot or not node or not param:
            raise NodegraphError(f"--promote {text!r}: expected NODE.PARAM or NODE.PARAM=Label")
        label = label.strip()
        return cls(node, param, name=slug(label), label=label)


def slug(label: str) -> str:
    """``"Subtitle size"`` -> ``subtitle_size`` (a param name), or "" when nothing is left."""
    import re

    s = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    if s and not s[0].isalpha():
        s = "p_" + s
    return s[:64]


def _unique(name: str, taken: set[str]) -> str:
    n, i = name, 2
    while n in taken:
        n, i = f"{name}_{i}", i + 1
    taken.add(n)
    return n


def make_look(doc: Document, ids: Iterable[str], ident: str, version: str, registry: Registry, *,
              promote: Iterable[Promote] = (), title: str = "", description: str = "", source: str = "") -> Look:
    """A Look of the nodes ``ids`` of ``doc``: the wires the selection cuts become its typed inputs
    (one per outside source, feeding every inner port it fed) and outputs (one per inner output
    used outside); ``promote`` puts inner params on its face, each defaulting to its value now."""
    sel = list(dict.fromkeys(ids))
    if not sel:
        raise NodegraphError("select at least one node to make a Look")
    for n in sel:
        if n not in doc:
            raise NodegraphError(f"there is no node {n!r} in the graph")
    if not isinstance(ident, str) or not LOOK_ID.match(ident):
        raise NodegraphError(f"Look name {ident!r} must be 'namespace/name' (lower case letters, digits, _ and -), "
                             "like studio/noir")
    if not isinstance(version, str) or not SEMVER.match(version):
        raise NodegraphError(f"Look version {version!r} must be semantic: MAJOR.MINOR.PATCH, like 1.0.0")
    chosen = set(sel)
    inner = Document()
    for n in sel:
        rec = copy.deepcopy(dict(doc.node(n)))
        rec["pinned"] = None
        inner.g.add_node(n, **rec)
    for n in sel:
        for link in doc.links_into(n):
            if link.src in chosen:
                inner._add_link(link)
    xs = [doc.layout.get(n, {}).get("pos", [0.0, 0.0]) for n in sel]
    x0, y0 = min(p[0] for p in xs), min(p[1] for p in xs)
    for n in sel:
        lay = copy.deepcopy(doc.layout.get(n) or {})
        if "pos" in lay:
            lay["pos"] = [lay["pos"][0] - x0, lay["pos"][1] - y0]
        if lay:
            inner.layout[n] = lay
    for gid, g in doc.groups.items():
        if g["nodes"] and set(g["nodes"]) <= chosen:
            inner.groups[gid] = copy.deepcopy(g)
    look = Look(ident, version, inner, title=title, description=description, source=source)
    names: set[str] = set()
    by_source: dict[tuple[str, str], str] = {}
    for n in sel:
        spec = registry.get(doc.type_of(n), doc.packs)
        for link in doc.links_into(n):
            if link.src in chosen:
                continue
            key = (link.src, link.src_port)
            if key in by_source and (n, link.dst_port) not in look.inputs[by_source[key]].to:
                p = look.inputs[by_source[key]]
                p.to = p.to + ((n, link.dst_port),)
                if spec.input(link.dst_port) is not None and spec.input(link.dst_port).variadic:
                    p.orders[(n, link.dst_port)] = link.order
                continue
            port = spec.input(link.dst_port)
            if port is None:
                raise NodegraphError(f"node {n!r} has no input {link.dst_port!r} (fix the graph first)")
            name = _unique(link.dst_port, names)
            by_source[key] = name
            look.inputs[name] = LookPort(name, port.type.id, to=((n, link.dst_port),),
                                         orders={(n, link.dst_port): link.order} if port.variadic else {})
    taken_out: set[str] = set()
    for n in sel:
        spec = registry.get(doc.type_of(n), doc.packs)
        used = sorted({l.src_port for l in doc.links_from(n) if l.dst not in chosen})
        for port in used:
            o = spec.output_port(port)
            name = _unique(port, taken_out)
            look.outputs[name] = LookPort(name, o.type.id if o else "any", source=(n, port))
    if not look.outputs:  # nothing leaves the selection: offer its last node's outputs
        ends = [n for n in sel if not any(l.dst in chosen for l in doc.links_from(n))]
        for n in ends:
            spec = registry.get(doc.type_of(n), doc.packs)
            for o in spec.outputs:
                name = _unique(o.name, taken_out)
                look.outputs[name] = LookPort(name, o.type.id, source=(n, o.name))
    if not look.outputs:
        raise NodegraphError("the selection has no output to give the Look (select nodes that make something)")
    for pr in promote:
        if pr.node not in chosen:
            raise NodegraphError(f"cannot promote {pr.node}.{pr.param}: node {pr.node!r} is not in the selection")
        spec = registry.get(doc.type_of(pr.node), doc.packs)
        port = spec.input(pr.param)
        if port is None or not port.is_param:
            params = [p.name for p in spec.inputs if p.is_param]
            raise NodegraphError(f"cannot promote {pr.node}.{pr.param}: {spec.id} has no param {pr.param!r} "
                                 f"(params: {', '.join(params)})")
        if any(l.dst_port == pr.param for l in doc.links_into(pr.node)):
            raise NodegraphError(f"cannot promote {pr.node}.{pr.param}: it is fed by a wire")
        name = pr.name or pr.param
        if not PORT.match(name):
            raise NodegraphError(f"promoted param name {name!r} must be lower case letters, digits and _")
        name = _unique(name, names | set(look.params))
        value = pr.default if pr.default is not None else doc.params(pr.node).get(pr.param, port.default_json)
        look.params[name] = Promoted(name, ((pr.node, pr.param),), label=pr.label, group=pr.group,
                                     default=value, min=pr.min, max=pr.max)
    return look


# -- instances in a graph --------------------------------------------------------------------------
def replace_with_instance(doc: Document, look: Look, ids: Iterable[str], instance_id: str | None = None) -> Batch:
    """The edit that puts an instance of ``look`` (made from ``ids``) in place of those nodes,
    wired as they were."""
    sel = list(dict.fromkeys(ids))
    chosen = set(sel)
    nid = instance_id or doc.new_id(look.type_id)
    xs = [doc.layout.get(n, {}).get("pos") for n in sel]
    xs = [p for p in xs if p]
    pos = (sum(p[0] for p in xs) / len(xs), sum(p[1] for p in xs) / len(xs)) if xs else None
    cmds: list[Command] = []
    incoming: list[tuple[str, str, str]] = []  # (src, src_port, instance input)
    for name, port in look.inputs.items():
        n, p = port.to[0]
        want = port.orders.get((n, p))  # a variadic port's wires: the one in that place
        link = next(l for l in doc.links_into(n, p) if l.src not in chosen and want in (None, l.order))
        incoming.append((link.src, link.src_port, name))
    outgoing: dict[tuple[str, str], list[Link]] = {}
    for n in sel:
        for l in doc.links_from(n):
            if l.dst not in chosen:
                outgoing.setdefault((l.dst, l.dst_port), [])
    out_name = {(p.source[0], p.source[1]): name for name, p in look.outputs.items()}
    for gid, g in sorted(doc.groups.items()):  # a group wholly inside went into the Look (make_look)
        if g["nodes"] and set(g["nodes"]) <= chosen:
            cmds.append(SetGroup(gid, None))
    for n in sel:
        cmds.append(RemoveNode(n))
    cmds.append(AddNode(look.type_id, id=nid, version=look.version, pos=pos, label=look.title or ""))
    for src, sport, name in incoming:
        cmds.append(Connect(src, sport, nid, name))
    for (dst, dport) in sorted(outgoing):
        links = []
        for l in doc.links_into(dst, dport):
            if l.src in chosen:
                links.append(Link(dst, dport, l.order, nid, out_name[(l.src, l.src_port)]))
            else:
                links.append(l)
        cmds.append(_SetPortLinks(dst, dport, links))
    doc.packs.setdefault(look.type_id, look.source or f"the Look file {look.file_name()}")
    return Batch(cmds, f"make Look {look.id}")


@dataclass
class ChangeInstance(Command):
    """Set an instance's Look version and params, renaming its wired ports (exact undo)."""

    node: str
    type: str
    version: str
    params: dict
    renames: dict  # old port -> new port
    title = "upgrade Look"

    def apply(self, doc: Document) -> Change:
        _need(doc, self.node)
        rec = doc.node(self.node)
        old = (rec["type"], rec["version"], copy.deepcopy(rec["params"]))
        back = {new: oldp for oldp, new in self.renames.items()}
        for l in doc.links_into(self.node):
            if l.dst_port in self.renames:
                doc._remove_link(l)
                doc._add_link(Link(l.dst, self.renames[l.dst_port], l.order, l.src, l.src_port))
        rec["type"], rec["version"], rec["params"] = self.type, self.version, copy.deepcopy(self.params)
        doc.links_changed()
        self.inverse = ChangeInstance(self.node, old[0], old[1], old[2], back)
        return Change(frozenset({self.node}), structure=True)


def upgrade(doc: Document, nid: str, looks: Any, version: str | None = None) -> tuple[Command, list[str]]:
    """The edit that moves instance ``nid`` to ``version`` (default: the newest installed) of its
    Look, keeping the user's values: params renamed by the Look's migrations carry their value
    over. Returns the command and notes for the user (params dropped because the new version has
    no such param)."""
    parsed = split_type(doc.type_of(nid)) if nid in doc else None
    if parsed is None:
        raise NodegraphError(f"node {nid!r} is not a Look instance")
    ident, old = parsed
    target = looks.get(ident, version) if version else looks.latest(ident)
    if target is None:
        have = looks.versions(ident)
        raise NodegraphError(f"Look {ident} {version or ''} is not installed (installed: {', '.join(have) or 'none'})")
    renames: dict[str, str] = {}
    for step in renames_between(target.migrations, old, target.version):
        for a, b in step.items():
            for k, v in list(renames.items()):
                if v == a:
                    renames[k] = b
            if a not in renames.values():
                renames.setdefault(a, b)
    params: dict[str, Any] = {}
    notes: list[str] = []
    for k, v in doc.params(nid).items():
        new = renames.get(k, k)
        if new in target.params:
            params[new] = v
            if new != k:
                notes.append(f"param {k!r} is now {new!r} (value kept)")
        else:
            notes.append(f"param {k!r} = {v!r} dropped: {target.label} has no such param")
    port_renames = {a: b for a, b in renames.items() if a != b}
    doc.packs.setdefault(target.type_id, target.source or f"the Look file {target.file_name()}")
    return ChangeInstance(nid, target.type_id, target.version, params, port_renames), notes


def unlock(doc: Document, nid: str, look: Look) -> Batch:
    """The edit that replaces instance ``nid`` by a copy of its inside, as ordinary nodes in a
    group titled after the Look (ids ``NID_inner``), with its values and wires."""
    rec = doc.node(nid)
    pos = doc.layout.get(nid, {}).get("pos", [0.0, 0.0])
    taken = set(doc.node_ids())
    ids = {n: _unique(f"{nid}_{n}"[:120], taken) for n in look.graph.node_ids()}
    cmds: list[Command] = []
    values = rec["params"]
    inner_params = {n: copy.deepcopy(look.graph.params(n)) for n in look.graph.node_ids()}
    for name, pro in look.params.items():
        v = values.get(name, pro.default)
        if v is not None:
            for n, p in pro.to:
                inner_params[n][p] = v
    links_in = doc.inputs(nid)
    out_links = doc.links_from(nid)
    cmds.append(RemoveNode(nid))
    for n in look.graph.node_ids():
        r = look.graph.node(n)
        p = look.graph.layout.get(n, {}).get("pos", [0.0, 0.0])
        cmds.append(AddNode(r["type"], id=ids[n], params=inner_params[n], version=r["version"],
                            pos=(pos[0] + p[0], pos[1] + p[1]), label=r.get("label", ""), notes=r.get("notes", ""),
                            cache=r.get("cache", "default")))
    port_links: dict[tuple[str, str], list[Link]] = {}  # the wires of each inner port, in their places
    places = look.inner_places()
    for link in look.graph.links():
        order = places.get((link.dst, link.dst_port), {}).get(link.order, link.order)
        port_links.setdefault((ids[link.dst], link.dst_port), []).append(
            Link(ids[link.dst], link.dst_port, order, ids[link.src], link.src_port))
    for name, targets, orders in ([(k, p.to, p.orders) for k, p in look.inputs.items()]
                                  + [(k, p.to, {}) for k, p in look.params.items()]):
        for l in links_in.get(name, []):
            for n, p in targets:
                port_links.setdefault((ids[n], p), []).append(Link(ids[n], p, orders.get((n, p), l.order), l.src, l.src_port))
    for (dst, port), links in port_links.items():
        links.sort(key=lambda l: l.order)
        cmds.append(_SetPortLinks(dst, port, [Link(dst, port, i, l.src, l.src_port) for i, l in enumerate(links)]))
    by_port: dict[tuple[str, str], None] = {(l.dst, l.dst_port): None for l in out_links}
    for dst, dport in by_port:
        new = []
        for l in doc.links_into(dst, dport):
            if l.src == nid:
                s, sp = look.outputs[l.src_port].source
                new.append(Link(dst, dport, l.order, ids[s], sp))
            else:
                new.append(l)
        cmds.append(_SetPortLinks(dst, dport, new))
    gid = _free_group(doc, f"{nid}_look")
    cmds.append(SetGroup(gid, {"title": f"{look.title or look.id} (unlocked from {look.label})",
                               "nodes": sorted(ids.values())}))
    return Batch(_dedupe(cmds), f"unlock Look {look.id}")


def _dedupe(cmds: list[Command]) -> list[Command]:
    seen: set = set()
    out = []
    for c in cmds:
        if isinstance(c, _SetPortLinks):
            key = (c.dst, c.dst_port)
            if key in seen:
                continue
            seen.add(key)
        out.append(c)
    return out


def _free_group(doc: Document, base: str) -> str:
    gid, i = base, 2
    while gid in doc.groups:
        gid, i = f"{base}_{i}", i + 1
    return gid

