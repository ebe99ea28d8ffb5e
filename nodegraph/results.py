"""What a run produces: events for observers, a result per node, and the run's report."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import NodegraphError
from .graph import Document
from .registry import Registry

OK = ("computed", "cached", "pinned")


@dataclass(slots=True)
class Event:
    """kind: planned (data: will_run, reason) | warning (level, message) | started | progress (fraction, message, preview)
    | finished (status: computed|cached|pinned, seconds) | failed (message) | skipped (reason) | log"""

    kind: str
    node: str | None = None
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class NodeResult:
    node: str
    type: str
    status: str = "pending"  # computed | cached | pinned | failed | skipped | pending
    seconds: float = 0.0
    error: str = ""
    reason: str = ""
    key: bytes = b""
    digests: dict[str, bytes] = field(default_factory=dict, repr=False)
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    types: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[str] = field(default_factory=list)
    material: list | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status in OK


@dataclass
class RunResult:
    nodes: dict[str, NodeResult]
    targets: list[tuple[str, str | None]]
    cancelled: bool = False
    seconds: float = 0.0
    materialise: Callable[[str, str], Any] | None = field(default=None, repr=False)
    #: (node, level, message): params whose value came from a link or a file (``nodegraph.overrides``)
    warnings: list[tuple[str, str, str]] = field(default_factory=list)
    #: for a graph with Look instances, its expansion (``nodegraph.looks.expand.Flat``): the nodes
    #: above are the flat ones (``noir/grain``); ``value`` and ``instance`` also take an instance id
    looks: Any = field(default=None, repr=False)

    def instance(self, node: str) -> "NodeResult | None":
        """One result standing for a Look instance: failed if an inner node failed (its error,
        named by path), computed if any computed, else cached; None for an ordinary node."""
        if self.looks is None or node not in self.looks.members:
            return None
        inner = [self.nodes[m] for m in self.looks.members[node] if m in self.nodes]
        r = NodeResult(node, "look")
        for status in ("failed", "skipped", "computed", "cached", "pinned"):
            hit = next((x for x in inner if x.status == status), None)
            if hit is not None:
                r.status = status
                r.error = f"{hit.node}: {hit.error}" if hit.error else ""
                break
        r.seconds = sum(x.seconds for x in inner)
        r.files = [f for x in inner for f in x.files]
        return r

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.ok for r in self.nodes.values())

    def value(self, node: str, port: str | None = None) -> Any:
        """A node's output value (loaded from the cache on demand if the node was cached)."""
        if node not in self.nodes and self.looks is not None and node in self.looks.members:
            ports = self.looks.ports(node)
            if port is None and len(ports) == 1:
                port = ports[0]
            if (node, port) not in self.looks.outputs:
                raise NodegraphError(f"Look instance {node!r} has outputs {ports}; name one")
            node, port = self.looks.source(node, port)
        r = self.nodes[node]
        if not r.ok:
            raise NodegraphError(f"node {node!r} has no value: it {r.status}" + (f" ({r.error})" if r.error else ""))
        names = list(r.digests) or list(r.outputs)
        if port is None:
            if len(names) != 1:
                raise NodegraphError(f"node {node!r} has outputs {sorted(names)}; name one")
            port = names[0]
        if port not in r.outputs:
            if self.materialise is None:
                raise NodegraphError(f"node {node!r} output {port!r} is not available")
            r.outputs[port] = self.materialise(node, port)
        return r.outputs[port]

    def count(self, status: str) -> int:
        return sum(1 for r in self.nodes.values() if r.status == status)

    def report(self) -> dict:
        """The JSON report ``nodegraph run --report`` writes."""
        from .types import find_type

        outputs: dict[str, Any] = {}
        for nid, port in self.targets:
            r = self.nodes.get(nid)
            if r is None or not r.ok:
                continue
            entry: dict[str, Any] = {}
            if r.files:
                entry["files"] = r.files
            for name in r.digests or r.outputs:
                if port is None or name == port:
                    v = self.value(nid, name)
                    t = r.types.get(name) or find_type(v)
                    entry[name] = {"type": t.id, "preview": t.preview(v).text,
                                   "digest": (r.digests.get(name) or t.fingerprint(v)).hex()}
            outputs[nid] = entry
        return {
            "ok": self.ok, "cancelled": self.cancelled, "seconds": round(self.seconds, 6),
            "counts": {s: self.count(s) for s in ("computed", "cached", "pinned", "failed", "skipped")},
            "nodes": {nid: {"type": r.type, "status": r.status, "seconds": round(r.seconds, 6),
                            **({"reason": r.reason} if r.reason else {}),
                            **({"error": r.error} if r.error else {}),
                            **({"files": r.files} if r.files else {})}
                      for nid, r in sorted(self.nodes.items())},
            "outputs": outputs,
            **({"warnings": [{"node": n, "level": lv, "message": m} for n, lv, m in self.warnings]}
               if self.warnings else {}),
        }


def run_files(result: RunResult) -> list[tuple[str, str]]:
    """Every file a run's nodes wrote ("wrote") or found cached and unchanged ("cached"), as
    (path, how), once each, in node order: what the CLI's summary and the editor's log list."""
    out: dict[str, str] = {}
    for nid in sorted(result.nodes):
        r = result.nodes[nid]
        for f in r.files:
            out.setdefault(f, "wrote" if r.status == "computed" else "cached")
    return list(out.items())


Target = str | tuple[str, str | None]


def parse_targets(doc: Document, registry: Registry, targets: Iterable[Target] | None) -> list[tuple[str, str | None]]:
    """``None`` -> every output node (or, if the graph has none, its sinks); ``"node"``,
    ``"node.port"`` or ``(node, port)`` -> that node (run to here)."""
    if targets is None:
        out = [(n, None) for n in doc.node_ids()
               if doc.type_of(n) in registry and registry.specs[doc.type_of(n)].output]
        if not out:
            out = [(n, None) for n in doc.node_ids() if doc.g.out_degree(n) == 0]
        return out
    parsed = []
    for t in targets:
        if isinstance(t, tuple):
            nid, port = t
        else:
            nid, _, port = t.partition(".")
            port = port or None
        if nid not in doc:
            raise NodegraphError(f"target {nid!r} is not a node of the graph")
        if port is not None and doc.type_of(nid) in registry and registry.specs[doc.type_of(nid)].output_port(port) is None:
            raise NodegraphError(f"target {nid}.{port}: node {nid!r} has no output {port!r}")
        parsed.append((nid, port))
    return parsed
