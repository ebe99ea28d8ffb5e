"""The cached incremental evaluator.

``Evaluator.run`` computes only what the requested targets need (every output node by default,
or any node: "run to here"), in dependency order. Each node gets a key from content
(``nodegraph.keys``), and one function, ``keys.decide``, says whether it computes: a key already
in the cache is a hit and the node does not run; a node that re-runs and produces the same output
digest stops the wave there (early cutoff). ``Evaluator.explain`` asks the same function before
anything runs, so what it says will run is what runs. Values live in the result cache
(``nodegraph.cache``: RAM in front of disk), so a new process over a warm cache computes nothing.
Cheap nodes run inline in the scheduler's thread; only nodes whose cost hint or measured time
warrants it go to the worker pool. A failing node skips only what depends on it. Observers get
``Event``s. The scheduling and the running of one node live in ``nodegraph.scheduler``.
"""
from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from .cache import Cache
from .context import CancelToken
from .errors import GraphInvalid, NodegraphError
from .graph import Document
from .overrides import run_notices
from .keys import Decision, FileDigests, KeyMaterial, decide, forced, material
from .registry import Registry
from .results import OK, Event, NodeResult, RunResult, Target, parse_targets
from .scheduler import Scheduler, gather_inputs
from .policy import Policy
from .validate import Issue, scope, validate


@dataclass(frozen=True)
class Explanation:
    will_run: str  # "yes" | "no" | "maybe" (an upstream re-runs; an unchanged output stops it)
    reason: str
    #: its key is in the cache (its result is known and unchanged) but its value is not (kept in
    #: memory only, or evicted): it runs only to make that value again (the editor shows it cached)
    key_cached: bool = False


class Evaluator:
    """Runs graphs against a cache.

    cache: a ``Cache`` (disk + RAM), or None for a RAM-only cache private to this evaluator.
    use_cache: False re-runs every node (``--no-cache``); results are not stored.
    workers: size of the worker pool for independent expensive branches (1 = everything runs in
    the calling thread).
    graph_id: names the graph in the cache's history, so ``explain`` can say what changed since
    the last run even in a new process (the CLI uses the graph file's absolute path).
    """

    def __init__(self, registry: Registry, *, output_dir: str | Path = "output", base_dir: str | Path = ".",
                 cache: Cache | None = None, use_cache: bool = True, workers: int | None = None,
                 graph_id: str | None = None, policy: Any = None, embed: bool = True, model_pins: Any = None) -> None:
        from .memory import tune_malloc

        tune_malloc()
        self.registry = registry
        self.output_dir, self.base_dir = Path(output_dir), Path(base_dir)
        #: what graphs may read and the memory budget (nodegraph.policy); default: the graph's folder tree
        self.policy = policy if policy is not None else Policy(self.base_dir, output_dir=self.output_dir)
        self._base_policy = self.policy
        self._flat: tuple | None = None  # (document stamp, its flat form) of the last Look expansion
        self.cache = cache if cache is not None else Cache.memory_only()
        self.use_cache = use_cache
        self.workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self.graph_id = graph_id
        #: the sha256 a bundle manifest pins per model reference (nodegraph.models.pins.ModelPins):
        #: a model kept under another name or folder is found by its bytes
        self.model_pins = model_pins
        self.files = FileDigests(self.cache, model_pins)
        self._checked: tuple | None = None
        self._plans: dict[tuple, tuple] = {}
        #: per graph: node -> its key material at its last run (loaded once from the cache's history)
        self._history: dict[str, dict[str, KeyMaterial]] = {}
        #: per document: (revision, structure revision, node results, volatile nodes) of its last run
        self._last: dict[str, tuple[int, int, dict[str, NodeResult], set[str]]] = {}
        self._codes: dict[str, str] = {}  # node type -> code identity (see nodegraph.codeid)
        self._notices: tuple | None = None  # (graph stamp, run_notices) of the last run
        self._out_str = str(self.output_dir.resolve())
        #: whether output files embed the graph that made them (False: ``nodegraph run --no-embed``);
        #: part of an output node's key (as its output folder), so switching it writes the files again
        self.embed = embed
        #: the identity outputs are signed with (C2PA content credentials, ``nodegraph.credentials``;
        #: ``nodegraph run --sign``), or None: each output node's files are sealed with its provenance
        #: record right after it writes them (``nodegraph.provenance.seal``)
        self.signer: Any = None
        self._out_key = self._out_str if embed else self._out_str + "\0no-embed"
        self._base_str = str(self.base_dir.resolve())
        self.scheduler = Scheduler(self)

    # -- validation and planning -------------------------------------------------------------
    def check(self, doc: Document, source: str = "", targets: Iterable[Target] | None = None) -> None:
        """Validate; with targets, only problems in what they need count (run to here works while an
        unrelated node is unfinished). Remembered per document: an unchanged graph is not checked
        again, and after edits that added or removed no node or link only the edited nodes are.
        A graph with Look instances is checked at the instances' level, then expanded."""
        targets = list(targets) if targets is not None else None
        try:
            doc, targets, _ = self.flatten(doc, targets)
        except GraphInvalid as e:
            if not source:
                raise
            raise GraphInvalid(e.issues, source) from None
        stamp = (doc.uid, doc.structure_revision, id(self.registry), len(self.registry))
        known = self._checked
        if known is not None and known[0] == stamp and known[1] == doc.revision:
            per_node, general = known[2], known[3]
        else:
            only = doc.changed_since(known[1]) if known is not None and known[0] == stamp else None
            only = scope(doc, self.registry, only) if only is not None else None  # output names clash across nodes
            fresh = validate(doc, self.registry, only, policy=self.policy)
            if only is None:
                per_node, general = {}, []
            else:
                per_node, general = {n: v for n, v in known[2].items() if n not in only}, list(known[3])
            for issue in fresh:  # a cycle concerns every run; the rest belongs to its node
                if issue.node is None or issue.code == "cycle":
                    general.append(issue)
                else:
                    per_node.setdefault(issue.node, []).append(issue)
            self._checked = (stamp, doc.revision, per_node, general)
        if not general and not per_node:
            return
        if targets is not None:  # only problems in what the targets need count
            needed = doc.upstream([n for n, _ in parse_targets(doc, self.registry, targets)])
            issues = list(general) + [i for n in sorted(needed) for i in per_node.get(n, [])]
        else:
            issues = list(general) + [i for n in sorted(per_node) for i in per_node[n]]
        if issues:
            raise GraphInvalid(issues, source)

    def plan(self, doc: Document, tlist: list[tuple[str, str | None]]) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
        """(the needed nodes in dependency order, dependents, predecessors, types), remembered per
        structure revision."""
        stamp = (doc.uid, doc.structure_revision, tuple(tlist))
        plan = self._plans.get(stamp)
        if plan is None:
            needed = doc.upstream([n for n, _ in tlist])
            succ, pred, attrs = doc.g._succ, doc.g._pred, doc.g._node
            preds = {n: sorted(pred[n]) for n in needed}
            dependents = {n: sorted(d for d in succ[n] if d in needed) for n in needed}
            order = _topological(needed, preds, dependents)
            types = {n: attrs[n]["type"] for n in order}
            plan = (order, dependents, preds, types)
            if len(self._plans) > 64:
                self._plans.clear()
            self._plans[stamp] = plan
        return plan

    def gid(self, doc: Document) -> str:
        return self.graph_id or f"memory:{doc.uid}"

    # -- the decision, shared by run and explain ---------------------------------------------
    def decide(self, doc: Document, nid: str, upstream: Callable[[str, str], bytes | None],
               unknown: tuple | list = ()) -> tuple[KeyMaterial, Decision]:
        """Node ``nid``'s key material and ``keys.decide``'s verdict on it: the one place where
        run and explain learn whether a node computes."""
        spec = self.registry.specs[doc.type_of(nid)]
        code = self._codes.get(spec.id)
        if code is None:
            code = self._codes[spec.id] = spec.code(self.cache)
        if doc.node(nid).get("bypass"):  # handed on untouched: not this code's result
            code = "bypass"
        mat = material(doc, nid, spec, upstream, self.files, self._base_str, self._out_key, code)
        gid = self.gid(doc)
        d = decide(spec, mat, policy=doc.node(nid).get("cache", "default"), use_cache=self.use_cache,
                   cache=self.cache, output_dir=self._out_str, unknown=unknown,
                   previous=lambda: self.previous(gid, nid), doc=doc, nid=nid)
        return mat, d

    def previous(self, gid: str, nid: str) -> KeyMaterial | None:
        """Node ``nid``'s key material at its last run (this process, or the cache's history)."""
        h = self._history.get(gid)
        if h is None:
            h = self._history[gid] = {}
            if self.graph_id and gid == self.graph_id:
                for node, (wire, _) in self.cache.get_history(gid).items():
                    mat = KeyMaterial.from_wire(wire)
                    if mat is not None:
                        h[node] = mat
        return h.get(nid)

    def reusable(self, doc: Document, order: list[str], dependents: dict[str, list[str]]) -> tuple[dict[str, NodeResult], set[str]]:
        """The last run's results, and the nodes of this plan whose result may differ from it:
        those edited since (``Document.change_log``), the volatile ones, and everything below
        them. Edits only mark dirty; every other node keeps its key without recomputing it."""
        prev = self._last.get(doc.uid)
        if prev is None or prev[1] != doc.structure_revision or not self.use_cache:
            return {}, set()
        changed = doc.changed_since(prev[0])
        if changed is None:
            return {}, set()
        last = prev[2]
        stack = [n for n in changed | prev[3] if n in dependents]
        dirty: set[str] = set()
        while stack:
            n = stack.pop()
            if n not in dirty:
                dirty.add(n)
                stack.extend(dependents[n])
        return last, dirty

    # -- running -----------------------------------------------------------------------------
    def run(self, doc: Document, targets: Iterable[Target] | None = None, *,
            on_event: Callable[[Event], None] | None = None, cancel: CancelToken | None = None) -> RunResult:
        targets = list(targets) if targets is not None else None
        doc, targets, flat = self.flatten(doc, targets)
        self.check(doc, targets=targets)
        tlist = parse_targets(doc, self.registry, targets)
        planned = None
        if on_event is not None:
            planned = self._explain(doc, tlist)
            for nid, (ex, _) in planned.items():
                on_event(Event("planned", nid, {"will_run": ex.will_run, "reason": ex.reason}))
        stamp = (doc.uid, doc.revision, tuple(tlist), id(self.registry), len(self.registry))
        if self._notices is None or self._notices[0] != stamp:  # a re-run of the same graph says the same
            self._notices = (stamp, run_notices(doc, self.plan(doc, tlist)[0], self.registry.specs))
        notices = self._notices[1]
        if on_event is not None:  # a param whose value comes from a link or a file is said, never silently
            for nid, level, message in notices:
                on_event(Event("warning", nid, {"level": level, "message": message}))
        result = self.scheduler.run(doc, tlist, on_event, cancel or CancelToken(), planned)
        result.warnings = list(notices)
        result.looks = flat
        return result

    def flatten(self, doc: Document, targets: list | None) -> tuple[Document, list | None, Any]:
        """A document with Look instances becomes its flat document (``nodegraph.looks.expand``:
        inner nodes named by path, ``shot2/noir/grain``), checked first at the instances' level;
        targets naming an instance name the inner outputs behind it. Others pass unchanged."""
        if getattr(doc, "is_flat", False):
            return doc, targets, None
        memo = self._flat
        if memo is not None and memo[0] == (doc.uid, doc.revision, doc.structure_revision, id(self.registry)):
            flat = memo[1]
        else:
            from .looks.expand import has_looks

            flat = self._expand(doc) if has_looks(doc) else None
            self._flat = ((doc.uid, doc.revision, doc.structure_revision, id(self.registry)), flat)
        if flat is None:
            return doc, targets, None
        if targets is not None:
            targets = flat_targets(flat, doc, targets)
        return flat.doc, targets, flat

    def _expand(self, doc: Document) -> Any:
        from .looks.expand import checked_expand

        flat, issues = checked_expand(doc, self.registry, self._base_policy)
        if issues:
            raise GraphInvalid(issues)
        if flat.read_roots:  # a Look's own files (a LUT) are read from beside its file
            self.policy = self._base_policy.widened(flat.read_roots)
        return flat

    def remember(self, doc: Document, nodes: dict[str, NodeResult], fresh: list[str], last_used: dict | None,
                 cancelled: bool) -> None:
        """After a run: the key material of what was decided afresh (for explain's reasons, here and
        in the cache's history), and the results to reuse in the next run of this document."""
        gid = self.gid(doc)
        h = self._history.setdefault(gid, {})
        new = []
        for nid in fresh:
            r = nodes[nid]
            mat = r.material
            if mat is None or not r.ok:
                continue
            old = h.get(nid)
            if old is None or old.key() != r.key:
                h[nid] = mat
                new.append((nid, mat, r.key))
        if new and self.graph_id and gid == self.graph_id:  # kept for explain in a later process
            self.cache.put_history(self.graph_id, [(nid, mat.wire(), key) for nid, mat, key in new])
        self.cache.flush()
        if self.use_cache and not cancelled:
            if len(self._last) > 16:
                self._last.clear()
            prev = self._last.get(doc.uid)
            volatile = self._volatile(doc, {n: nodes[n] for n in fresh})
            if prev is not None and last_used is prev[2]:  # reused nodes keep what they were
                volatile |= {n for n in prev[3] if n in nodes and n not in fresh}
            self._last[doc.uid] = (doc.revision, doc.structure_revision, nodes, volatile)

    def _volatile(self, doc: Document, nodes: dict[str, NodeResult]) -> set[str]:
        """Nodes whose last result cannot be trusted without looking again: they failed, were
        pinned, write or read files (which may have changed on disk), or run every time."""
        specs, g = self.registry.specs, doc.g
        out = set()
        for nid, r in nodes.items():
            rec = g.nodes[nid]
            spec = specs[r.type]
            if (r.status not in ("computed", "cached") or spec.output or spec.determinism not in ("pure", "seeded")
                    or rec.get("cache", "default") != "default" or rec.get("pinned")):
                out.add(nid)
        return out

    def close(self) -> None:
        """Stop the worker threads (the evaluator can still run afterwards; it starts new ones)."""
        self.scheduler.close()

    # -- explaining --------------------------------------------------------------------------
    def explain(self, doc: Document, targets: Iterable[Target] | None = None) -> dict[str, Explanation]:
        """For each node the targets need: will it run, and why. Nothing is run. Inner nodes of
        Look instances are named by path (``shot2/noir/grain``)."""
        targets = list(targets) if targets is not None else None
        doc, targets, _ = self.flatten(doc, targets)
        self.check(doc, targets=targets)
        tlist = parse_targets(doc, self.registry, targets)
        return {nid: ex for nid, (ex, _) in self._explain(doc, tlist).items()}

    def _explain(self, doc: Document, tlist: list[tuple[str, str | None]]) -> dict[str, tuple[Explanation, Any]]:
        """Explanations, each with what ``run`` can reuse of it (the node's material and decision
        when its upstream digests were known)."""
        order, dependents, preds, _ = self.plan(doc, tlist)
        last, dirty = self.reusable(doc, order, dependents)
        out: dict[str, tuple[Explanation, Any]] = {}
        digests: dict[str, dict[str, bytes] | None] = {}
        computing: dict[bytes, str] = {}  # key -> the node that computes (and stores) it first
        failing: dict[str, str] = {}  # node -> the upstream node whose failure skips it
        specs = self.registry.specs
        for nid in order:
            bad = next((failing.get(s, s) for s in preds[nid] if s in failing), None)
            if bad is not None:
                failing[nid] = bad
                out[nid] = (Explanation("no", f"skipped: upstream {bad!r} fails"), None)
                digests[nid] = None
                continue
            old = last.get(nid) if nid not in dirty else None
            if old is not None and old.ok and old.status != "pinned":  # as run: unchanged since its last run
                out[nid] = _REUSED
                digests[nid] = old.digests
                continue
            unknown = [s for s in preds[nid] if digests.get(s) is None]
            mat, d = self.decide(doc, nid, lambda s, p: (digests[s] or {}).get(p), unknown)
            if d.failed:
                out[nid] = (Explanation("no", f"fails: {d.failed}"), None)
                digests[nid] = None
                failing[nid] = nid
                continue
            if d.verdict == "yes" and not unknown:
                policy = doc.g.nodes[nid].get("cache", "default")
                key = mat.key()
                first = computing.get(key)
                if first is not None and forced(specs[doc.type_of(nid)], policy, self.use_cache) is None:
                    out[nid] = (Explanation("no", f"same result as {first!r}, which computes it first"), None)
                    digests[nid] = None
                    continue
                if self.use_cache and policy != "never":
                    computing[key] = nid
            out[nid] = (Explanation(d.verdict, d.reason), (mat, d) if not unknown else None)
            digests[nid] = d.digests if d.verdict == "no" else None
        self._evicted(doc, order, dependents, tlist, out, digests)
        return out

    def _evicted(self, doc: Document, order: list[str], dependents: dict[str, list[str]], tlist: list,
                 out: dict, digests: dict) -> None:
        """A result that is cached but whose value is gone from the cache computes again when a
        node that computes needs it ("yes"), or when a node that may compute does ("maybe"). If
        another node may put that very value back first (it computes a value of the same type,
        or it lost the same value), which one recomputes is known only during the run ("maybe")."""
        specs = self.registry.specs
        targets = {n for n, _ in tlist}
        lost: dict[bytes, list[str]] = {}
        gid = self.gid(doc)
        for nid in reversed(order):  # a recomputed node may need its own evicted inputs in turn
            ex = out[nid][0]
            if ex.will_run == "maybe" and not ex.key_cached:
                # its upstream re-runs: if that output is unchanged its last key is a hit, but a
                # node below that computes needs its value, and that value may be gone
                if {out[d][0].will_run for d in dependents[nid]} - {"no"} and self._lost_last(gid, nid):
                    out[nid] = (Explanation("maybe", f"{ex.reason}; its last result's value was evicted, so it "
                                                     "computes again if a node below it needs it"), out[nid][1])
                continue
            if ex.will_run != "no" or not digests.get(nid) or ex.reason == "pinned":
                continue
            needs = {out[d][0].will_run for d in dependents[nid]}
            spec = specs[doc.type_of(nid)]
            if nid in targets and spec.output:
                needs.add("yes")  # run reads an output node's result (the files it wrote) for the report
            if needs <= {"no"}:
                continue  # nothing below it computes: whether its value is still there does not matter
            missing = [d for d in digests[nid].values() if not self.cache.has_value(d)]
            if not missing:
                continue
            ram_only = not any(o.type.vtype.persistent for o in spec.outputs)
            gone = ("its result is kept in memory only (a recipe, cheap to redo), not from run to run" if ram_only
                    else "cached result was evicted")
            if "yes" in needs:
                out[nid] = (Explanation("yes", f"{gone}; a node below it needs it", True), None)
            else:
                out[nid] = (Explanation("maybe", f"{gone}; computes again if a node below it re-runs", True), None)
            for d in missing:
                lost.setdefault(d, []).append(nid)
        if not lost:
            return
        out_types = {n: {o.type.id for o in specs[doc.type_of(n)].outputs} for n in order}
        computing_types: dict[str, int] = {}
        for n in order:
            if out[n][0].will_run != "no" and n not in {m for g in lost.values() for m in g}:
                for t in out_types[n]:
                    computing_types[t] = computing_types.get(t, 0) + 1
        for d, group in lost.items():
            for nid in group:
                others = [n for n in group if n != nid]
                if out[nid][0].will_run == "yes" and (others or any(computing_types.get(t) for t in out_types[nid])):
                    who = f"{others[0]!r}, which lost the same value" if others else "a node computing first"
                    out[nid] = (Explanation("maybe", f"{out[nid][0].reason}, unless {who} puts the same value "
                                                     "back first", out[nid][0].key_cached), None)

    def _lost_last(self, gid: str, nid: str) -> bool:
        """Whether the result of node ``nid``'s last run is known to the cache but a value is gone."""
        old = self.previous(gid, nid)
        entry = self.cache.get_action(old.key()) if old is not None else None
        return entry is not None and any(not self.cache.has_value(d) for d in entry["outputs"].values())

    # -- pinning -----------------------------------------------------------------------------
    def pin(self, result: RunResult, nid: str):
        """The command that pins ``nid`` to its result in ``result`` (and protects its blobs)."""
        from .commands import SetPin

        if nid not in result.nodes and result.looks is not None and nid in result.looks.members:
            raise NodegraphError(f"node {nid!r} is a Look instance: its result cannot be pinned (unlock it to pin "
                                 "a node inside, or pin the node it feeds)")
        r = result.nodes[nid]
        if not r.ok:
            raise NodegraphError(f"node {nid!r} has no result to pin: it {r.status}")
        for name, d in r.digests.items():
            if not self.cache.has_value(d):
                self.cache.put_value(d, result.value(nid, name), r.types[name].id)
            self.cache.pin(d)
        return SetPin(nid, {name: d.hex() for name, d in r.digests.items()})


_REUSED = (Explanation("no", "cached"), None)


def flat_targets(flat: Any, doc: Document, targets: list) -> list:
    """Targets naming a Look instance (``noir`` or ``noir.image``) -> the inner outputs behind it."""
    out: list = []
    for t in targets:
        nid, port = t if isinstance(t, tuple) else (t.partition(".")[0], t.partition(".")[2] or None)
        if nid not in flat.members:
            out.append(t)
            continue
        for p in [port] if port else flat.ports(nid):
            if (nid, p) not in flat.outputs:
                raise NodegraphError(f"target {nid}.{p}: Look instance {nid!r} has no output {p!r}")
            out.append(flat.source(nid, p))
    return out


def _topological(nodes: set[str], preds: dict[str, list[str]], dependents: dict[str, list[str]]) -> list[str]:
    """Dependency order, smallest id first among the ready ones (stable from run to run)."""
    waiting = {n: len(preds[n]) for n in nodes}
    heap = sorted(n for n, k in waiting.items() if k == 0)
    order: list[str] = []
    while heap:
        n = heapq.heappop(heap)
        order.append(n)
        for d in dependents[n]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(heap, d)
    if len(order) != len(nodes):  # validate() reports cycles first; kept for direct callers
        raise GraphInvalid([Issue("cycle", "the graph has a cycle")])
    return order


__all__ = ["Evaluator", "Explanation", "Event", "NodeResult", "RunResult", "OK", "parse_targets", "gather_inputs"]
