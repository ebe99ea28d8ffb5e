"""Running a graph.

``Evaluator.run`` computes the ancestors of the requested targets (nodes, ``node.port``, or by
default every output node) in topological order and returns a ``RunResult``. Observers get
``Event``s (planned, started, progress, finished, failed, skipped). A failing node does not stop
independent branches: only the nodes that depend on it are skipped.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import networkx as nx

from .context import CancelToken, Context
from .errors import Cancelled, GraphInvalid, NodegraphError
from .fileformat import dumps
from .graph import Document
from .node import REQUIRED, NodeSpec
from .registry import Registry
from .types import ValueError_, convert
from .validate import Issue, validate


@dataclass(frozen=True)
class Event:
    kind: str  # planned | started | progress | finished | failed | skipped | log
    node: str | None = None
    data: dict = field(default_factory=dict)


@dataclass
class NodeResult:
    node: str
    type: str
    status: str = "pending"  # computed | cached | failed | skipped | pending
    seconds: float = 0.0
    error: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    types: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    nodes: dict[str, NodeResult]
    targets: list[tuple[str, str | None]]
    cancelled: bool = False
    seconds: float = 0.0
    graph_text: Callable[[], str] = field(default=lambda: "", repr=False)

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(r.status in ("computed", "cached") for r in self.nodes.values())

    def value(self, node: str, port: str | None = None) -> Any:
        r = self.nodes[node]
        if r.status not in ("computed", "cached"):
            raise NodegraphError(f"node {node!r} has no value: it {r.status}" + (f" ({r.error})" if r.error else ""))
        if port is None:
            if len(r.outputs) != 1:
                raise NodegraphError(f"node {node!r} has outputs {sorted(r.outputs)}; name one")
            return next(iter(r.outputs.values()))
        return r.outputs[port]

    def count(self, status: str) -> int:
        return sum(1 for r in self.nodes.values() if r.status == status)

    def report(self) -> dict:
        """The JSON report ``nodegraph run --report`` writes."""
        from .types import find_type

        outputs: dict[str, Any] = {}
        for nid, port in self.targets:
            r = self.nodes.get(nid)
            if r is None or r.status not in ("computed", "cached"):
                continue
            entry: dict[str, Any] = {}
            if r.files:
                entry["files"] = r.files
            for name, v in r.outputs.items():
                if port is None or name == port:
                    t = r.types.get(name) or find_type(v)
                    entry[name] = {"type": t.id if t else type(v).__name__,
                                   "preview": t.preview(v).text if t else repr(v)[:80],
                                   "digest": t.fingerprint(v).hex() if t else None}
            outputs[nid] = entry
        return {
            "ok": self.ok, "cancelled": self.cancelled, "seconds": round(self.seconds, 6),
            "nodes": {nid: {"type": r.type, "status": r.status, "seconds": round(r.seconds, 6),
                            **({"error": r.error} if r.error else {}),
                            **({"files": r.files} if r.files else {})}
                      for nid, r in sorted(self.nodes.items())},
            "outputs": outputs,
        }


Target = str | tuple[str, str | None]


def parse_targets(doc: Document, registry: Registry, targets: Iterable[Target] | None) -> list[tuple[str, str | None]]:
    """``None`` -> every output node; ``"node"`` or ``"node.port"`` or ``(node, port)``."""
    if targets is None:
        out = [(n, None) for n in doc.node_ids()
               if doc.type_of(n) in registry and registry.specs[doc.type_of(n)].output]
        if not out:  # a graph with no output node: its sinks are what the user wants
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
        parsed.append((nid, port))
    return parsed


class Evaluator:
    """Plain topological evaluator (no cache yet; the cached one replaces it behind this API)."""

    def __init__(self, registry: Registry, *, output_dir: str | Path = "output",
                 base_dir: str | Path = ".") -> None:
        self.registry = registry
        self.output_dir, self.base_dir = Path(output_dir), Path(base_dir)

    def check(self, doc: Document, source: str = "") -> None:
        issues = validate(doc, self.registry)
        if issues:
            raise GraphInvalid(issues, source)

    def run(self, doc: Document, targets: Iterable[Target] | None = None, *,
            on_event: Callable[[Event], None] | None = None,
            cancel: CancelToken | None = None) -> RunResult:
        self.check(doc)
        emit = on_event or (lambda e: None)
        cancel = cancel or CancelToken()
        tlist = parse_targets(doc, self.registry, targets)
        needed = doc.upstream([n for n, _ in tlist])
        order = [n for n in nx.lexicographical_topological_sort(doc.g.subgraph(needed))]
        results = {n: NodeResult(n, doc.type_of(n)) for n in order}
        run = RunResult(results, tlist)
        run.graph_text = _once(lambda: dumps(doc))
        for n in order:
            emit(Event("planned", n, {"reason": "not cached (no cache yet)"}))
        t0 = time.perf_counter()
        scratch = Path(tempfile.mkdtemp(prefix="nodegraph-run-"))
        try:
            for n in order:
                r = results[n]
                if cancel.cancelled:
                    run.cancelled = True
                    break
                blocked = [l.src for l in doc.links_into(n) if results[l.src].status not in ("computed", "cached")]
                if blocked:
                    r.status, r.error = "skipped", f"upstream node {blocked[0]!r} did not produce a value"
                    emit(Event("skipped", n, {"reason": r.error}))
                    continue
                self._run_node(doc, n, results, emit, cancel, scratch, run)
                if run.cancelled:
                    break
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        run.seconds = time.perf_counter() - t0
        return run

    def _run_node(self, doc: Document, n: str, results: dict[str, NodeResult], emit: Callable[[Event], None],
                  cancel: CancelToken, scratch: Path, run: RunResult) -> None:
        spec = self.registry.specs[doc.type_of(n)]
        r = results[n]
        ctx = Context(n, spec.id, output_dir=self.output_dir, base_dir=self.base_dir, cancel=cancel,
                      emit=lambda kind, data: emit(Event(kind, n, data)), scratch_root=scratch,
                      graph_text=run.graph_text)
        emit(Event("started", n))
        t = time.perf_counter()
        try:
            kwargs = gather_inputs(doc, n, spec, lambda src, port: results[src].outputs[port], self.registry, ctx)
            r.outputs = spec.call(kwargs, ctx)
            r.types = {o.name: o.type.vtype for o in spec.outputs}
        except Cancelled:
            run.cancelled = True
            r.status, r.error, r.seconds = "skipped", "cancelled", time.perf_counter() - t
            emit(Event("skipped", n, {"reason": "cancelled"}))
            return
        except Exception as e:  # a node's fault is reported on the node, the run goes on
            r.status, r.seconds, r.error = "failed", time.perf_counter() - t, describe_error(e)
            r.files = [str(p) for p in ctx.files]
            emit(Event("failed", n, {"message": r.error, "traceback": traceback.format_exc()}))
            return
        r.status, r.seconds = "computed", time.perf_counter() - t
        r.files = [str(p) for p in ctx.files]
        emit(Event("finished", n, {"status": "computed", "seconds": r.seconds}))


def _once(fn: Callable[[], str]) -> Callable[[], str]:
    memo: list[str] = []

    def get() -> str:
        if not memo:
            memo.append(fn())
        return memo[0]

    return get


def describe_error(e: BaseException) -> str:
    msg = str(e).strip() or type(e).__name__
    # the exceptions nodes raise on purpose carry a message meant for the user as it is
    if isinstance(e, (NodegraphError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError)):
        return msg
    return f"{type(e).__name__}: {msg}"


def gather_inputs(doc: Document, n: str, spec: NodeSpec, value_of: Callable[[str, str], Any],
                  registry: Registry, ctx: Context) -> dict[str, Any]:
    """The keyword arguments for a node: linked values (converted), else params, else defaults.
    Path params are resolved against the graph's folder."""
    params = doc.params(n)
    linked = doc.inputs(n)
    kwargs: dict[str, Any] = {}
    for port in spec.inputs:
        links = linked.get(port.name)
        if links:
            vals = []
            for link in links:
                src_spec = registry.specs[doc.type_of(link.src)]
                src_type = src_spec.output_port(link.src_port).type.vtype
                v = convert(value_of(link.src, link.src_port), src_type, port.type.vtype)
                try:
                    vals.append(port.type.check(v))
                except ValueError_ as e:
                    raise ValueError_(f"input {port.name!r} (from {link.src}.{link.src_port}): {e}") from None
            kwargs[port.name] = tuple(vals) if port.variadic else vals[0]
        elif port.variadic:
            kwargs[port.name] = ()
        elif port.name in params:
            kwargs[port.name] = port.type.from_json(params[port.name])
        elif port.default is not REQUIRED:
            kwargs[port.name] = port.default
        else:  # validate() reports this before a run; kept for direct callers
            raise ValueError_(f"required input {port.name!r} is not connected")
        if port.type.id == "path" and isinstance(kwargs[port.name], str) and kwargs[port.name]:
            kwargs[port.name] = str(ctx.input_path(kwargs[port.name]))
    return kwargs


__all__ = ["Evaluator", "Event", "NodeResult", "RunResult", "Issue", "parse_targets", "gather_inputs"]
