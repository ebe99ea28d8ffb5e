"""The graph document: nodes with stable ids, params by name, links by (node, port).

Semantics (what is computed) live in a networkx MultiDiGraph; layout (positions, collapsed,
colours), groups and notes live beside it, so moving a node changes nothing a cache key sees.
Change a document only through command objects (``nodegraph.commands``): that is what gives
undo/redo and a record of what each edit dirtied.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any, Iterator, NamedTuple

import networkx as nx

NODE_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}\Z")
CACHE_POLICIES = ("default", "always", "never")


class Link(NamedTuple):
    """``src.src_port -> dst.dst_port``; ``order`` ranks links into one variadic input. Ordered
    by its fields in this order; a named tuple (a frozen dataclass costs three times as much to
    make, and a run makes one per link of a graph it has not seen)."""

    dst: str
    dst_port: str
    order: int
    src: str
    src_port: str

    def __str__(self) -> str:
        return f"{self.src}.{self.src_port} -> {self.dst}.{self.dst_port}"


def base_id(type_id: str) -> str:
    """The id a new node of ``type_id`` starts from: ``voice.speak`` -> ``speak``,
    ``look:studio/noir@1.0.0`` -> ``noir``."""
    if type_id.startswith("look:"):
        type_id = type_id.rpartition("@")[0].rpartition("/")[2]
    return re.sub(r"[^A-Za-z0-9_]", "_", type_id.rsplit(".", 1)[-1]) or "node"


class Document:
    def __init__(self) -> None:
        #: identifies this document object (evaluators remember per-document state by it)
        self.uid = uuid.uuid4().hex
        self.g = nx.MultiDiGraph()
        self.meta: dict[str, Any] = {}
        self.packs: dict[str, str] = {}
        self.layout: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        #: links read from a file whose source node is missing (reported by validate)
        self.dangling: list[Link] = []
        #: bumped by every semantic change (the editor and evaluator compare it)
        self.revision = 0
        #: bumped when nodes or links are added or removed
        self.structure_revision = 0
        #: (revision, nodes dirtied) for each semantic edit, oldest first (bounded)
        self.change_log: list[tuple[int, frozenset[str]]] = []
        self._inputs_memo: dict[str, dict[str, list[Link]]] = {}

    # -- nodes --------------------------------------------------------------------------------
    def __contains__(self, node_id: str) -> bool:
        return node_id in self.g

    def node_ids(self) -> list[str]:
        return sorted(self.g.nodes)

    def node(self, node_id: str) -> dict[str, Any]:
        """The node's semantic record: type, version, params, label, notes, cache."""
        return self.g._node[node_id]  # networkx's own dict: NodeView lookups cost microseconds each

    def type_of(self, node_id: str) -> str:
        return self.g._node[node_id]["type"]

    def params(self, node_id: str) -> dict[str, Any]:
        return self.g._node[node_id]["params"]

    def new_id(self, type_id: str) -> str:
        base = base_id(type_id)
        if base not in self.g:
            return base
        n = 2
        while f"{base}_{n}" in self.g:
            n += 1
        return f"{base}_{n}"

    # -- links --------------------------------------------------------------------------------
    def links(self) -> list[Link]:
        return sorted(Link(d, data["dst_port"], data["order"], s, data["src_port"])
                      for s, d, data in self.g.edges(data=True))

    def links_into(self, node_id: str, port: str | None = None) -> list[Link]:
        rows = sorted((data["dst_port"], data["order"], s, data["src_port"])  # Link's own order, as tuples
                      for s, keyed in self.g._pred[node_id].items() for data in keyed.values()
                      if port is None or data["dst_port"] == port)
        return [Link(node_id, dp, o, s, sp) for dp, o, s, sp in rows]

    def links_from(self, node_id: str) -> list[Link]:
        return sorted(Link(d, data["dst_port"], data["order"], node_id, data["src_port"])
                      for _, d, data in self.g.out_edges(node_id, data=True))

    def inputs(self, node_id: str) -> dict[str, list[Link]]:
        """Links into ``node_id`` grouped by input port, each list in link order (remembered until
        links change: do not modify the result)."""
        out = self._inputs_memo.get(node_id)
        if out is None:
            out = {}
            for link in self.links_into(node_id):
                out.setdefault(link.dst_port, []).append(link)
            self._inputs_memo[node_id] = out
        return out

    def links_changed(self) -> None:
        """Forget remembered link lists (called whenever nodes or links are added or removed)."""
        self._inputs_memo.clear()

    def _edge_key(self, link: Link) -> Any:
        for s, _, k, data in self.g.in_edges(link.dst, keys=True, data=True):
            if (s, data["src_port"], data["dst_port"], data["order"]) == (link.src, link.src_port, link.dst_port, link.order):
                return k
        return None

    def _add_link(self, link: Link) -> None:
        self._inputs_memo.pop(link.dst, None)
        self.g.add_edge(link.src, link.dst, src_port=link.src_port, dst_port=link.dst_port, order=link.order)

    def _remove_link(self, link: Link) -> None:
        self._inputs_memo.pop(link.dst, None)
        self.g.remove_edge(link.src, link.dst, key=self._edge_key(link))

    # -- whole-document helpers ---------------------------------------------------------------
    def copy(self) -> "Document":
        d = Document()
        d.g = copy.deepcopy(self.g)
        d.meta, d.packs = copy.deepcopy(self.meta), dict(self.packs)
        d.layout, d.groups = copy.deepcopy(self.layout), copy.deepcopy(self.groups)
        d.dangling = list(self.dangling)
        d.revision, d.structure_revision = self.revision, self.structure_revision
        return d

    def snapshot(self) -> "Document":
        """A copy for a background run: same identity and change log, so an evaluator that ran an
        earlier snapshot of this document knows what changed since and reuses the rest."""
        d = self.copy()
        d.uid = self.uid
        d.change_log = list(self.change_log)
        return d

    def upstream(self, node_ids: Iterator[str] | list[str]) -> set[str]:
        """The nodes and all their ancestors (one walk, however many nodes are asked for)."""
        pred = self.g._pred
        out: set[str] = set()
        stack = list(node_ids)
        while stack:
            n = stack.pop()
            if n not in out:
                out.add(n)
                stack.extend(pred[n])
        return out

    def downstream(self, node_id: str) -> set[str]:
        return {node_id} | nx.descendants(self.g, node_id)

    LOG_LIMIT = 4096

    def record_change(self, nodes: frozenset[str]) -> None:
        self.change_log.append((self.revision, nodes))
        if len(self.change_log) > self.LOG_LIMIT:
            del self.change_log[: self.LOG_LIMIT // 2]

    def changed_since(self, revision: int) -> set[str] | None:
        """Nodes dirtied by semantic edits after ``revision``; None if the log no longer reaches back."""
        if revision == self.revision:
            return set()
        if not self.change_log or self.change_log[0][0] > revision + 1:
            return None
        out: set[str] = set()
        for rev, nodes in reversed(self.change_log):
            if rev <= revision:
                break
            out |= nodes
        return out

    def find_cycle(self) -> list[str] | None:
        if self._acyclic():  # linear; nx.find_cycle alone is quadratic on DAGs
            return None
        try:
            cycle = nx.find_cycle(self.g)
        except nx.NetworkXNoCycle:
            return None
        return [e[0] for e in cycle] + [cycle[0][0]]

    def _acyclic(self) -> bool:
        """Kahn's algorithm over networkx's own adjacency dicts (a few times faster than
        ``nx.is_directed_acyclic_graph`` on graphs of a thousand nodes)."""
        pred, succ = self.g._pred, self.g._succ
        waiting = {n: len(p) for n, p in pred.items()}
        stack = [n for n, k in waiting.items() if k == 0]
        seen = 0
        while stack:
            n = stack.pop()
            seen += 1
            for d in succ[n]:
                waiting[d] -= 1
                if waiting[d] == 0:
                    stack.append(d)
        return seen == len(waiting)

    def content(self) -> dict[str, Any]:
        """Everything a graph file holds but its format and version: nodes (params, links into
        them, labels, notes, cache policy, pins), meta, the packs its nodes use, groups, layout.
        ``nodegraph.fileformat`` writes it as canonical JSON."""
        nodes = {}
        dangling: dict[str, list[Link]] = {}
        for d in self.dangling:
            dangling.setdefault(d.dst, []).append(d)
        for nid in self.node_ids():
            rec = self.node(nid)
            entry: dict[str, Any] = {"type": rec["type"], "version": rec["version"]}
            if rec["params"]:
                entry["params"] = rec["params"]
            ins = {}
            grouped: dict[str, list[Link]] = {}
            for l in sorted(self.links_into(nid) + dangling.get(nid, [])):
                grouped.setdefault(l.dst_port, []).append(l)
            for port, links in grouped.items():
                refs = [f"{l.src}.{l.src_port}" for l in links]
                ins[port] = refs[0] if len(refs) == 1 else refs
            if ins:
                entry["inputs"] = ins
            for key in ("label", "notes"):
                if rec.get(key):
                    entry[key] = rec[key]
            if rec.get("cache", "default") != "default":
                entry["cache"] = rec["cache"]
            if rec.get("pinned"):
                entry["pinned"] = rec["pinned"]
            if rec.get("bypass"):
                entry["bypass"] = True
            nodes[nid] = entry
        data: dict[str, Any] = {"nodes": nodes}
        if self.meta:
            data["meta"] = self.meta
        # a node pack by namespace; a Look by its whole type id (look:studio/noir@1.0.0: where to get it)
        used = {t if t.startswith("look:") else t.split(".", 1)[0] for t in (self.type_of(n) for n in self.node_ids())}
        packs = {ns: d for ns, d in self.packs.items() if ns in used}
        if packs:
            data["packs"] = packs
        if self.groups:
            data["groups"] = self.groups
        layout = {k: v for k, v in sorted(self.layout.items()) if v and k in self}
        if layout:
            data["layout"] = layout
        return data

    def __eq__(self, other: object) -> bool:
        """Equal when they would be written as the same graph file."""
        return isinstance(other, Document) and (
            json.dumps(self.content(), sort_keys=True, ensure_ascii=False)
            == json.dumps(other.content(), sort_keys=True, ensure_ascii=False))

    def __repr__(self) -> str:
        return f"<Document {len(self.g)} nodes, {self.g.number_of_edges()} links>"
